/**
 * `whisper-napi serve`: the OpenAI-compatible server as a process. It listens first and loads
 * the model after (so /health says "loading" meanwhile); SIGTERM or Ctrl-C stops accepting,
 * lets running jobs finish, disposes the model and exits. lib/server and its optional peer
 * dependencies are loaded only here, so every other command runs without them.
 */
import path from 'node:path';
import { WhisperError } from '../../errors/whisper-error';
import { loadModel, type WhisperModel } from '../../model/whisper-model';
import { setLogger } from '../../native/system';
import type { LoadModelOptions } from '../../transcription/options';
import { parseCommandArgs } from '../args';
import { intOption, usageError, type Command } from '../command';
import { requirePeerDependencies } from '../peer-dependencies';
import { resolveModelArgument } from '../model-argument';
import { progressMode } from '../progress';

const OPTIONS = {
  model: { type: 'string', short: 'm' },
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
  concurrency: { type: 'string' },
  'max-queue': { type: 'string' },
  'api-key': { type: 'string', multiple: true },
  'max-file-size': { type: 'string' },
  threads: { type: 'string', short: 't' },
  'word-timestamps': { type: 'boolean' },
  download: { type: 'boolean' },
  'models-dir': { type: 'string' },
  cpu: { type: 'boolean' },
  'headers-timeout': { type: 'string' },
  'request-timeout': { type: 'string' },
  'max-connections': { type: 'string' },
  'max-audio-duration': { type: 'string' },
  'allow-origin': { type: 'string', multiple: true },
  'metrics-auth': { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
} as const;

const DEFAULT_PORT = 8080;
const DEFAULT_HOST = '127.0.0.1';
const PEER_DEPENDENCIES = ['busboy', 'ws', 'prom-client'] as const;

export const serveCommand: Command = {
  name: 'serve',
  synopsis: 'serve --model <name|path>',
  summary: 'an OpenAI-compatible transcription server',
  usage: `Usage: whisper-napi serve --model <name|path> [options]

Serves OpenAI's audio API (POST /v1/audio/transcriptions and /v1/audio/translations,
GET /v1/models), live transcription over WebSocket (/v1/audio/stream), a page to try
them (/), GET /health and GET /metrics (Prometheus). Prints \`listening on http://HOST:PORT\`
on stdout once it accepts connections, then loads the model (/health answers 503
"loading" until it is ready). SIGTERM or Ctrl-C stops accepting, finishes the running
jobs, disposes the model and exits. Needs the optional dependencies busboy, ws and
prom-client (npm install busboy ws prom-client).

Model:
  -m, --model <name|path> a model file, or a name from \`whisper-napi models list\` found in the
                          model cache; the API serves it as that name and as whisper-1
  --download              download a named model that is not cached yet (after listening)
  --models-dir <dir>      the model cache (default: $WHISPER_NAPI_MODELS, or
                          ~/.cache/whisper-napi/models)
  --word-timestamps       load the model with DTW alignment, for timestamp_granularities[]=word
  --cpu                   do not use a GPU

Server:
  -p, --port <n>          the port (default ${DEFAULT_PORT}; 0 picks a free one)
  --host <address>        the address to bind (default ${DEFAULT_HOST}, this machine only;
                          0.0.0.0 for every interface)
  --api-key <key>         ask /v1/* requests for \`Authorization: Bearer <key>\` (repeat it for
                          several keys; default: $WHISPER_NAPI_API_KEY, or no key asked for)
  --max-file-size <size>  the largest upload: bytes, or with kb, mb, gb (1024-based;
                          default 25mb, as OpenAI)
  --max-audio-duration <s>  the longest audio one request may hold, in seconds of decoded
                          audio; longer is answered 413 (default 7200, 2 hours)
  --headers-timeout <ms>  a client must send its request head within this (default 10000)
  --request-timeout <ms>  ... and its whole request within this (default 300000)
  --max-connections <n>   connections at once; when full, connections with no request under
                          way are closed to make room (default 1024)
  --allow-origin <origin> a web origin (https://app.example) whose pages may use the live
                          WebSocket; repeat it for several, or * for any (default: only the
                          server's own page; programs that send no Origin are not affected)
  --metrics-auth          /metrics asks for the API key too (default: it asks for none)

Work:
  --concurrency <n|auto>  transcriptions that run at once, each on its own whisper state
                          (default 1; auto plans it from memory)
  --max-queue <n>         requests that may wait for a state; more are answered 429 with
                          Retry-After, and so are uploads beyond what runs and waits
                          (default: 4 × concurrency)
  -t, --threads <n>       CPU threads per transcription (default: cores / concurrency, at most 4)

Messages:
  -q, --quiet             nothing on stderr but errors
  --verbose               whisper.cpp's log, and the stack of an error
  -h, --help              this help

Exit codes: 0 stopped by SIGTERM, 1 the model failed to load or the port was taken,
2 a usage mistake, 130 Ctrl-C.`,
  async run(args, context) {
    const settings = parseSettings(args);
    const server = importServer();
    if (settings.verbose) setLogger((level, message) => process.stderr.write(`[${level}] ${message}\n`));
    await serve(server, settings, context.signal);
  },
};

type ServerModule = typeof import('../../server/server');
type TranscriptionServerOptions = import('../../server/server').TranscriptionServerOptions;

interface ServeSettings {
  model: string;
  /** The name the API serves the model as (besides whisper-1). */
  modelName: string;
  port: number;
  host: string;
  loadOptions: LoadModelOptions;
  apiKeys: string[];
  maxFileSize: number | undefined;
  threads: number | undefined;
  headersTimeoutMs: number | undefined;
  requestTimeoutMs: number | undefined;
  maxQueue: number | undefined;
  maxConnections: number | undefined;
  maxAudioDurationMs: number | undefined;
  allowedOrigins: '*' | string[] | undefined;
  metricsAuth: boolean;
  download: boolean;
  modelsDir: string | undefined;
  quiet: boolean;
  verbose: boolean;
}

function parseSettings(args: string[]): ServeSettings {
  const { values } = parseCommandArgs(args, OPTIONS, false);
  const model = values.model;
  if (model === undefined || model === '') usageError('serve needs --model <model name or path>');
  const port = intOption('port', values.port, 0) ?? DEFAULT_PORT;
  if (port > 65535) usageError(`--port expects a port from 0 to 65535, got "${values.port}"`);
  const host = values.host ?? DEFAULT_HOST;
  if (host === '') usageError('--host needs an address');
  const maxQueue = intOption('max-queue', values['max-queue'], 0);
  const loadOptions: LoadModelOptions = {
    gpu: !values.cpu,
    concurrency: concurrencyOption(values.concurrency),
    ...(maxQueue !== undefined ? { maxQueue } : {}),
    ...(values['word-timestamps'] ? { wordTimestamps: true } : {}),
  };
  return {
    model,
    modelName: servedName(model),
    port,
    host,
    loadOptions,
    apiKeys: apiKeys(values['api-key']),
    maxFileSize: values['max-file-size'] === undefined ? undefined : byteSize('max-file-size', values['max-file-size']),
    threads: intOption('threads', values.threads, 1),
    headersTimeoutMs: intOption('headers-timeout', values['headers-timeout'], 1),
    requestTimeoutMs: intOption('request-timeout', values['request-timeout'], 1),
    maxQueue,
    maxConnections: intOption('max-connections', values['max-connections'], 1),
    maxAudioDurationMs: audioDuration(values['max-audio-duration']),
    allowedOrigins: origins(values['allow-origin']),
    metricsAuth: values['metrics-auth'] === true,
    download: values.download === true,
    modelsDir: values['models-dir'],
    quiet: values.quiet === true,
    verbose: values.verbose === true,
  };
}

function concurrencyOption(value: string | undefined): number | 'auto' {
  if (value === 'auto') return 'auto';
  return intOption('concurrency', value, 1) ?? 1;
}

/** --max-audio-duration in seconds (at least 1), as ms. */
function audioDuration(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (value.trim() === '' || !Number.isFinite(seconds) || seconds < 1 || seconds > 24 * 3600) {
    usageError(`--max-audio-duration expects seconds from 1 to 86400, got "${value}"`);
  }
  return Math.round(seconds * 1000);
}

/** --allow-origin as given (repeatable): '*' alone, or origins such as https://app.example. */
function origins(given: string[] | undefined): '*' | string[] | undefined {
  if (given === undefined) return undefined;
  if (given.includes('*')) {
    if (given.length > 1) usageError('--allow-origin * allows every origin; give it alone');
    return '*';
  }
  for (const origin of given) {
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      url = undefined;
    }
    if (url === undefined || url.origin !== origin.replace(/\/$/, '') || !/^https?:$/.test(url.protocol)) {
      usageError(`--allow-origin expects an origin such as https://app.example (scheme, host and port), got "${origin}"`);
    }
  }
  return given.map((origin) => new URL(origin).origin);
}

/** --api-key as given (repeatable), else $WHISPER_NAPI_API_KEY, else none. */
function apiKeys(given: string[] | undefined): string[] {
  if (given !== undefined) {
    if (given.some((key) => key.trim() === '')) usageError('--api-key needs a non-empty key');
    return given;
  }
  const fromEnvironment = process.env.WHISPER_NAPI_API_KEY?.trim();
  return fromEnvironment ? [fromEnvironment] : [];
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/** "25mb", "512kb", "1048576": bytes, the units 1024-based (OpenAI's "25 MB" is 25 MiB). */
function byteSize(option: string, value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  const unit = match ? SIZE_UNITS[match[2]!.toLowerCase()] : undefined;
  const bytes = match && unit !== undefined ? Math.floor(Number(match[1]) * unit) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1) usageError(`--${option} expects a size such as 25mb, 512kb or 1048576 (bytes), got "${value}"`);
  return bytes;
}

/** A catalogue name is served as itself; a file as its name without .bin (ggml-base.en.bin: ggml-base.en). */
function servedName(model: string): string {
  const base = path.basename(model);
  return base.endsWith('.bin') && base.length > 4 ? base.slice(0, -4) : base;
}

/** lib/server, after checking its optional peer dependencies are installed: one line naming what to install if not. */
function importServer(): ServerModule {
  requirePeerDependencies('serve', PEER_DEPENDENCIES);
  // Loaded here, not imported at the top: importing it loads busboy, ws and prom-client.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../../server/server') as ServerModule;
}

/**
 * Aborted when the server should stop: SIGTERM, or the CLI's Ctrl-C signal. A second SIGTERM
 * changes nothing: running jobs still finish (SIGKILL, or a second Ctrl-C, ends it at once).
 */
function stopRequested(interrupt: AbortSignal): { stopping: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.on('SIGTERM', stop);
  if (interrupt.aborted) stop();
  interrupt.addEventListener('abort', stop, { once: true });
  return {
    stopping: controller.signal,
    dispose() {
      process.off('SIGTERM', stop);
      interrupt.removeEventListener('abort', stop);
    },
  };
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** The model, resolved (downloaded with --download) and loaded once `start` says go; refused (ABORTED) if it says no. */
async function loadServedModel(settings: ServeSettings, start: Promise<boolean>, signal: AbortSignal): Promise<WhisperModel> {
  if (!(await start) || signal.aborted) throw new WhisperError('ABORTED', 'the server stopped before the model loaded');
  const mode = settings.quiet ? 'off' : progressMode({ progress: true, verbose: settings.verbose });
  const file = await resolveModelArgument(settings.model, {
    kind: 'whisper',
    option: '--model',
    download: settings.download,
    modelsDir: settings.modelsDir,
    mode,
    signal,
  });
  return loadModel(file, settings.loadOptions);
}

function handlerOptions(settings: ServeSettings, loading: Promise<WhisperModel>): TranscriptionServerOptions {
  return {
    models: { [settings.modelName]: loading },
    ...(settings.apiKeys.length > 0 ? { apiKey: settings.apiKeys } : {}),
    ...(settings.maxFileSize !== undefined ? { maxFileSize: settings.maxFileSize } : {}),
    ...(settings.threads !== undefined ? { transcribeDefaults: { threads: settings.threads } } : {}),
    ...(settings.headersTimeoutMs !== undefined ? { headersTimeoutMs: settings.headersTimeoutMs } : {}),
    ...(settings.requestTimeoutMs !== undefined ? { requestTimeoutMs: settings.requestTimeoutMs } : {}),
    ...(settings.maxQueue !== undefined ? { maxQueue: settings.maxQueue } : {}),
    ...(settings.maxConnections !== undefined ? { maxConnections: settings.maxConnections } : {}),
    ...(settings.maxAudioDurationMs !== undefined ? { maxAudioDurationMs: settings.maxAudioDurationMs } : {}),
    ...(settings.allowedOrigins !== undefined ? { allowedOrigins: settings.allowedOrigins } : {}),
    ...(settings.metricsAuth ? { metricsAuth: true } : {}),
  };
}

/**
 * Listens, then loads the model, and serves until SIGTERM or Ctrl-C; a model that fails to load
 * ends it too (there is nothing to serve), and its error is thrown once the server has closed.
 */
async function serve(server: ServerModule, settings: ServeSettings, interrupt: AbortSignal): Promise<void> {
  const say = (line: string) => {
    if (!settings.quiet) process.stderr.write(`whisper-napi serve: ${line}\n`);
  };
  const { stopping, dispose } = stopRequested(interrupt);
  let go!: (listening: boolean) => void;
  const loading = loadServedModel(settings, new Promise<boolean>((resolve) => (go = resolve)), stopping);
  loading.then(
    (model) =>
      say(`model ${settings.modelName} ready (concurrency ${model.concurrency}, max queue ${settings.maxQueue ?? server.DEFAULT_QUEUE_PER_SLOT * model.concurrency})`),
    () => {},
  );
  const loadFailed = loading.then(
    () => new Promise<never>(() => {}),
    (error: unknown) => error as Error,
  );
  const http = server.createTranscriptionServer(handlerOptions(settings, loading));
  let failure: Error | undefined;
  try {
    const address = await server.listen(http, settings.port, settings.host);
    process.stdout.write(`listening on http://${urlHost(settings.host)}:${address.port}\n`);
    go(true);
    failure = await Promise.race([aborted(stopping).then(() => undefined), loadFailed]);
    if (failure === undefined) say('stopping: finishing the running jobs');
  } finally {
    go(false);
    await server.shutdown(http);
    await loading.then(
      (model) => model.dispose(),
      () => {},
    );
    // Only now: a SIGTERM while the jobs finish must not find node's default (exit at once).
    dispose();
  }
  if (failure !== undefined) throw failure;
}
