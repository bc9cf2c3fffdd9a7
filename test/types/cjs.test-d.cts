// The public types as a CommonJS module sees them: `import ... from 'whisper-napi'` compiles
// to require() and resolves dist/index.d.ts through the exports map's require condition.
import type { expectTypeOf as ExpectTypeOf } from 'vitest' with { 'resolution-mode': 'import' };
import { isWhisperError, loadBackend, loadModel, WhisperError, type BackendInfo, type Transcript, type WhisperErrorCode } from 'whisper-napi';
import { convertModel, wordErrorRate, type ModelFileInfo, type WordErrorRate } from 'whisper-napi/tools';
import whisper = require('whisper-napi');

declare const expectTypeOf: typeof ExpectTypeOf;

expectTypeOf(loadModel).returns.resolves.toHaveProperty('transcribe');
expectTypeOf<Awaited<ReturnType<Awaited<ReturnType<typeof loadModel>>['transcribe']>>>().toEqualTypeOf<Transcript>();
expectTypeOf(loadBackend).returns.resolves.toEqualTypeOf<BackendInfo>();
expectTypeOf<WhisperError['code']>().toEqualTypeOf<WhisperErrorCode>();
expectTypeOf(isWhisperError).guards.toEqualTypeOf<WhisperError>();
expectTypeOf(whisper.WhisperError).toEqualTypeOf<typeof WhisperError>();
expectTypeOf(convertModel).returns.resolves.toEqualTypeOf<ModelFileInfo>();
expectTypeOf(wordErrorRate).returns.toEqualTypeOf<WordErrorRate>();

// @ts-expect-error convertModel is in whisper-napi/tools
import { convertModel as notInRuntime } from 'whisper-napi';
// @ts-expect-error dist/ files other than the entries are not exported
import type { WordErrorRate as Deep } from 'whisper-napi/dist/tools/wer.js';
export type Unreachable = [typeof notInRuntime, Deep];

// The subpaths resolve under require too.
import server = require('whisper-napi/server');
import queue = require('whisper-napi/queue');
expectTypeOf(server.createTranscriptionHandler).toBeFunction();
expectTypeOf(queue.createTranscriptionWorker).toBeFunction();
