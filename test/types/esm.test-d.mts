// The public types as an ES module sees them: `import ... from 'whisper-napi'` resolves
// dist/esm/index.d.mts through the exports map's import condition.
import { expectTypeOf } from 'vitest';
import {
  backendInfo,
  estimateMemory,
  getDevices,
  isWhisperError,
  loadAudio,
  loadBackend,
  loadModel,
  transcribeLongFile,
  transcribeStream,
  WhisperError,
  WhisperModel,
  type BackendInfo,
  type Device,
  type GpuPreference,
  type LoadModelOptions,
  type MemoryEstimate,
  type ModelMemory,
  type Segment,
  type Transcript,
  type TranscribeOptions,
  type WhisperErrorCode,
} from 'whisper-napi';
import {
  convertModel,
  inspectModelFile,
  kvCacheBytes,
  maxConcurrencyForBudget,
  quantizeModel,
  readModelInfo,
  wordErrorRate,
  writeSyntheticModel,
  type ModelFileInfo,
  type QuantizationType,
  type WordErrorRate,
} from 'whisper-napi/tools';
import type * as required from 'whisper-napi' with { 'resolution-mode': 'require' };
import type * as requiredTools from 'whisper-napi/tools' with { 'resolution-mode': 'require' };

expectTypeOf(loadModel).parameters.toEqualTypeOf<[path: string, options?: LoadModelOptions]>();
expectTypeOf(loadModel).returns.resolves.toEqualTypeOf<WhisperModel>();
expectTypeOf<WhisperModel['transcribe']>().returns.resolves.toEqualTypeOf<Transcript>();
expectTypeOf<WhisperModel['transcribe']>().parameter(1).toEqualTypeOf<TranscribeOptions | undefined>();
expectTypeOf<WhisperModel['transcribeStream']>().returns.toEqualTypeOf<AsyncGenerator<Segment>>();
expectTypeOf<WhisperModel['memory']>().returns.toEqualTypeOf<ModelMemory>();
expectTypeOf<WhisperModel>().toExtend<AsyncDisposable>();
expectTypeOf(loadAudio).returns.resolves.toEqualTypeOf<Float32Array>();
expectTypeOf(transcribeLongFile).returns.resolves.toEqualTypeOf<Transcript>();
expectTypeOf(transcribeStream).returns.toEqualTypeOf<AsyncGenerator<Segment, void, undefined>>();
expectTypeOf(getDevices).returns.toEqualTypeOf<Device[]>();
expectTypeOf(loadBackend).parameter(0).toEqualTypeOf<{ gpu?: GpuPreference } | undefined>();
expectTypeOf(loadBackend).returns.resolves.toEqualTypeOf<BackendInfo>();
expectTypeOf(backendInfo).returns.toEqualTypeOf<BackendInfo>();
expectTypeOf(estimateMemory).returns.resolves.toEqualTypeOf<MemoryEstimate>();
expectTypeOf<GpuPreference>().toEqualTypeOf<'auto' | 'cuda' | 'cpu'>();

expectTypeOf<WhisperError>().toExtend<Error>();
expectTypeOf<WhisperError['code']>().toEqualTypeOf<WhisperErrorCode>();
expectTypeOf<'FILE_UNREADABLE'>().toExtend<WhisperErrorCode>();
expectTypeOf<'NOT_A_CODE'>().not.toExtend<WhisperErrorCode>();
declare const caught: unknown;
if (isWhisperError(caught)) expectTypeOf(caught).toEqualTypeOf<WhisperError>();

expectTypeOf(convertModel).returns.resolves.toEqualTypeOf<ModelFileInfo>();
expectTypeOf(quantizeModel).returns.resolves.toEqualTypeOf<ModelFileInfo>();
expectTypeOf(writeSyntheticModel).returns.resolves.toEqualTypeOf<ModelFileInfo>();
expectTypeOf(inspectModelFile).returns.resolves.toEqualTypeOf<ModelFileInfo>();
expectTypeOf(readModelInfo).parameters.toEqualTypeOf<[path: string]>();
expectTypeOf(wordErrorRate).returns.toEqualTypeOf<WordErrorRate>();
expectTypeOf(kvCacheBytes).returns.toEqualTypeOf<{ kvSelf: number; kvCross: number; kvPad: number }>();
expectTypeOf(maxConcurrencyForBudget).returns.toBeNumber();
expectTypeOf<'q5_0'>().toExtend<QuantizationType>();

// Both forms are one implementation, so their types are the same declarations.
expectTypeOf<typeof required.WhisperError>().toEqualTypeOf<typeof WhisperError>();
expectTypeOf<typeof required.loadModel>().toEqualTypeOf<typeof loadModel>();
expectTypeOf<typeof requiredTools.convertModel>().toEqualTypeOf<typeof convertModel>();

// The tools are not part of the runtime entry, and nothing but the two entries is importable.
// @ts-expect-error wordErrorRate is in whisper-napi/tools
import { wordErrorRate as notInRuntime } from 'whisper-napi';
// @ts-expect-error loadModel is in whisper-napi
import { loadModel as notInTools } from 'whisper-napi/tools';
// @ts-expect-error dist/ files other than the entries are not exported
import type { ResolvedLoadOptions } from 'whisper-napi/dist/transcription/options.js';
// @ts-expect-error the CommonJS build has no path of its own in the exports map
import type { WhisperModel as Deep } from 'whisper-napi/dist/index.js';
export type Unreachable = [typeof notInRuntime, typeof notInTools, ResolvedLoadOptions, Deep];

// whisper-napi/server and whisper-napi/queue take the core's WhisperModel and give typed handlers and workers.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createTranscriptionHandler, createTranscriptionServer, type ServerMessage, type TranscriptionHandler } from 'whisper-napi/server';
import { createTranscriptionWorker, enqueueTranscription, type TranscriptionResult } from 'whisper-napi/queue';

declare const served: WhisperModel;
const handler = createTranscriptionHandler({ models: { 'whisper-1': served, large: loadModel('large-v3-q5_0') }, apiKey: 'key', maxFileSize: 1 << 20 });
expectTypeOf(handler).toEqualTypeOf<TranscriptionHandler>();
expectTypeOf(handler).toBeCallableWith({} as IncomingMessage, {} as ServerResponse);
expectTypeOf(handler.close()).toEqualTypeOf<Promise<void>>();
handler.attach(createServer(handler));
expectTypeOf(createTranscriptionServer({ models: served, headersTimeoutMs: 5000 }).handler).toEqualTypeOf<TranscriptionHandler>();
// @ts-expect-error: models are WhisperModels or promises of them, not paths
createTranscriptionHandler({ models: 'base.en' });
expectTypeOf<Extract<ServerMessage, { type: 'segment' }>['start']>().toEqualTypeOf<number>();
expectTypeOf(createTranscriptionWorker).parameter(0).toHaveProperty('queue');
expectTypeOf(enqueueTranscription).returns.resolves.toHaveProperty('id');
expectTypeOf<TranscriptionResult>().toHaveProperty('output');
