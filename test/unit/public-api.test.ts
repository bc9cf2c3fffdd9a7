/**
 * Which values each package entry exports: 'whisper-napi' (lib/index.ts) is what a program
 * that transcribes needs, 'whisper-napi/tools' (lib/tools/index.ts) the model-file tools, WER
 * scoring and the planner's building blocks, 'whisper-napi/server' the HTTP and live API,
 * 'whisper-napi/queue' the BullMQ workers and producers. A name added to or dropped from either is a
 * change to the public API, made here on purpose (and in api/, by `npm run api:report`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as runtime from '../../lib';
import * as queue from '../../lib/queue';
import * as server from '../../lib/server';
import * as tools from '../../lib/tools';

const RUNTIME_VALUES = [
  'ALIGNMENT_HEADS_PRESETS',
  'ARCHITECTURE_NAMES',
  'GPU_PREFERENCES',
  'LANGUAGE_NAMES',
  'MODEL_CATALOGUE',
  'ModelGroup',
  'TRANSCRIPTION_TASKS',
  'TRANSCRIPT_FORMATS',
  'WHISPER_ERROR_CODES',
  'WHISPER_SAMPLE_RATE',
  'WhisperError',
  'WhisperModel',
  'addCatalogueEntry',
  'backendInfo',
  'cachedModelPath',
  'defaultModelsDir',
  'downloadModel',
  'estimateMemory',
  'findCatalogueEntry',
  'formatTranscript',
  'getDevices',
  'getLanguages',
  'getSystemInfo',
  'isNonSpeechText',
  'isWhisperError',
  'languageName',
  'listModels',
  'loadAudio',
  'loadBackend',
  'loadModel',
  'loadModelGroup',
  'removeModel',
  'setLogger',
  'toVerboseJson',
  'transcribeLongFile',
  'transcribeStream',
];

const TOOLS_VALUES = [
  'ALIGNMENT_HEADS_PRESETS',
  'ARCHITECTURES',
  'ARCHITECTURE_NAMES',
  'AUTO_SAFETY_MARGIN',
  'QUANTIZATION_TYPES',
  'SYNTHETIC_WEIGHT_TYPES',
  'averageLogProbability',
  'compressionRatio',
  'computeBufferBytes',
  'convertModel',
  'corpusWordErrorRate',
  'decodersFor',
  'detectSourceFormat',
  'identifyArchitecture',
  'inspectModelFile',
  'kvCacheBytes',
  'maxConcurrencyForBudget',
  'normalizeWords',
  'parseSphinxTranscription',
  'planSyntheticModel',
  'quantizeModel',
  'readModelInfo',
  'wordErrorRate',
  'wordsFromTokens',
  'writeSyntheticModel',
];

const SERVER_VALUES = [
  'CLOSE_CODES',
  'DEFAULT_HEADERS_TIMEOUT_MS',
  'DEFAULT_KEEP_ALIVE_TIMEOUT_MS',
  'DEFAULT_MAX_AUDIO_DURATION_MS',
  'DEFAULT_MAX_CONNECTIONS',
  'DEFAULT_MAX_FILE_SIZE',
  'DEFAULT_QUEUE_PER_SLOT',
  'DEFAULT_REQUEST_TIMEOUT_MS',
  'LIVE_FORMATS',
  'LIVE_PATH',
  'OPENAI_MODEL_ALIAS',
  'RESPONSE_FORMATS',
  'TIMESTAMP_GRANULARITIES',
  'createTranscriptionHandler',
  'createTranscriptionServer',
];

const QUEUE_VALUES = [
  'DEFAULT_ATTEMPTS',
  'DEFAULT_BACKOFF_MS',
  'MAX_INLINE_AUDIO_BYTES',
  'QUEUE_DEPTH_STATES',
  'TRANSCRIPTION_JOB_NAME',
  'TranscriptionWorker',
  'cancelTranscription',
  'createTranscriptionWorker',
  'enqueueTranscription',
  'errorFromFailure',
  'parseJobData',
  'redisConnectionFromUrl',
  'registerQueueMetrics',
  'transcriptionJobData',
  'waitForTranscription',
];

function readReport(report: string): string {
  return fs.readFileSync(path.join(__dirname, '..', '..', 'api', report), 'utf8');
}

function valueNames(module: object): string[] {
  return Object.keys(module).sort();
}

describe('the package entries', () => {
  it('whisper-napi exports the runtime API and nothing else', () => {
    expect(valueNames(runtime)).toEqual(RUNTIME_VALUES);
  });

  it('whisper-napi/tools exports the tools and nothing else', () => {
    expect(valueNames(tools)).toEqual(TOOLS_VALUES);
  });

  it('whisper-napi/server and whisper-napi/queue export their APIs and nothing else', () => {
    expect(valueNames(server)).toEqual(SERVER_VALUES);
    expect(valueNames(queue)).toEqual(QUEUE_VALUES);
    for (const name of valueNames(server)) expect(name in queue, name).toBe(false);
  });

  it('no name is exported by both entries but the architecture names and presets, the same object in both', () => {
    // ArchitectureName is `typeof ARCHITECTURE_NAMES[number]` in both entries' types
    // (estimateMemory's input in one, the synthesizer's in the other), so both export the list;
    // AlignmentHeadsPreset likewise (loadModel's options, the architectures' alignment heads).
    expect(valueNames(runtime).filter((name) => name in tools)).toEqual(['ALIGNMENT_HEADS_PRESETS', 'ARCHITECTURE_NAMES']);
    expect(runtime.ARCHITECTURE_NAMES).toBe(tools.ARCHITECTURE_NAMES);
    expect(runtime.ALIGNMENT_HEADS_PRESETS).toBe(tools.ALIGNMENT_HEADS_PRESETS);
  });

  it('keeps native handles out of both entries', () => {
    for (const name of ['native', 'modelMemory', 'stateMemory', 'loadedAddon', 'fromNativeError']) {
      expect(name in runtime, name).toBe(false);
      expect(name in tools, name).toBe(false);
    }
  });

  it('exports every value of the runtime API as the module that defines it has it', () => {
    expect(runtime.WHISPER_ERROR_CODES).toContain('FILE_UNREADABLE');
    expect(runtime.WHISPER_ERROR_CODES).toContain('STATE_BUSY');
    expect(runtime.WHISPER_ERROR_CODES).toContain('UNSUPPORTED_AUDIO');
    expect(runtime.GPU_PREFERENCES).toEqual(['auto', 'cuda', 'cpu']);
    expect(new runtime.WhisperError('INVALID_ARGUMENT', 'x')).toBeInstanceOf(Error);
    expect(runtime.isWhisperError(new runtime.WhisperError('INVALID_ARGUMENT', 'x'), 'INVALID_ARGUMENT')).toBe(true);
  });

  it('uses no type that its entry does not export (the API reports list none)', () => {
    // test/native/package-surface.test.ts checks that the reports are those of the current build
    for (const report of ['whisper-napi.api.md', 'whisper-napi-tools.api.md']) {
      expect(readReport(report).match(/ae-forgotten-export.*/g) ?? [], report).toEqual([]);
    }
  });

  it('names in the server and queue entries only types that whisper-napi exports (WhisperModel, Transcript, ...)', () => {
    const runtimeReport = readReport('whisper-napi.api.md');
    for (const report of ['whisper-napi-server.api.md', 'whisper-napi-queue.api.md']) {
      const borrowed = [...readReport(report).matchAll(/ae-forgotten-export\) The symbol "(\w+)"/g)].map((match) => match[1]!);
      for (const name of borrowed) {
        expect(runtimeReport, `${report}: ${name}`).toMatch(new RegExp(`^export (declare )?(class|interface|type|function|const) ${name}\\b`, 'm'));
      }
    }
  });
});
