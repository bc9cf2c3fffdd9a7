export { loadModel, WhisperModel, type ModelInfo } from './model';
export type { LoadModelOptions, TranscribeOptions, VadOptions } from './options';
export type { Transcript, Segment, Token } from './transcript';
export { loadAudio, decodeWav, resample, WHISPER_SAMPLE_RATE, type AudioInput, type AudioOptions } from './audio';
export { inspectModelFile, type ModelFileInfo } from './model-file';
export { writeSyntheticModel, type SyntheticModelOptions } from './synthetic-model';
export { getDevices, getSystemInfo, getLanguages, setLogger, type Device, type SystemInfo, type Logger, type LogLevel } from './system';
export { WhisperError, isWhisperError, type WhisperErrorCode } from './errors';
