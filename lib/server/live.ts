/**
 * Live transcription over WebSocket at /v1/audio/stream (the protocol: live-protocol.ts).
 *
 * Each connection is one model.transcribeStream() fed from an AudioInbox: binary messages go
 * into the inbox, which pauses the socket while it holds more than a few seconds of audio, so
 * what a connection holds is bounded by that, one stream window (windowMs) and one message,
 * however fast the client sends. WebM bytes go through the audio path (openAudioSource, so
 * ffmpeg), whose output is bounded by ffmpeg's own high-water mark. Connections are limited to
 * maxLiveConnections (default: the default model's concurrency, one pool slot each; 1 while
 * it loads); the one over the limit is accepted and closed with 1013. Closing the socket
 * aborts the work; close() ends every connection with 1001 and waits for its work to stop.
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket, WebSocketServer } from 'ws';
import { resolveAudioOptions, type ResolvedAudioOptions } from '../audio/audio-options';
import { openAudioSource } from '../audio/open-source';
import { SAMPLES_PER_MS, WHISPER_SAMPLE_RATE } from '../audio/pcm';
import { WhisperError, isWhisperError } from '../errors/whisper-error';
import type { WhisperModel } from '../model/whisper-model';
import type { StreamOptions } from '../stream/options';
import type { TranscribeOptions } from '../transcription/options';
import { bearerKey, unavailable, type JobOutcome, type ServerContext } from './context';
import { AudioInbox } from './live-inbox';
import {
  API_KEY_PROTOCOL_PREFIX,
  CLOSE_CODES,
  LIVE_PATH,
  MAX_MESSAGE_BYTES,
  MAX_TEXT_MESSAGE_BYTES,
  closeReason,
  doneMessage,
  failureOf,
  parseClientMessage,
  segmentMessage,
  type LiveFormat,
  type ServerMessage,
  type StartMessage,
} from './live-protocol';
import { HttpError, audioTooLong, errorBody, toHttpError } from './openai-errors';

export interface LiveEndpoint {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Closes every live connection and resolves when their work has stopped. */
  close(): Promise<void>;
}

/** What a connection holds, reported as it changes (for tests and instrumentation). */
export interface LiveInstrumentation {
  onHeld?(held: { queuedBytes: number; windowSamples: number }): void;
}

/** The inbox pauses the socket above this much PCM. */
const QUEUED_AUDIO_SECONDS = 5;
/** For encoded audio (WebM/Opus is about 4 kB/s, so this is about a minute): ffmpeg takes it as fast as it decodes. */
const QUEUED_ENCODED_BYTES = 256 * 1024;
/** Decoded WebM is handed to the stream in pieces of this many samples (0.5 s). */
const DECODED_PIECE_SAMPLES = 8000;
/** A client that does not answer our close frame is cut off after this long. */
const CLOSE_GRACE_MS = 2000;
/**
 * While the inbox holds the socket paused, nothing is read from it, so a client that went away
 * would go unnoticed until the transcriber caught up: a ping this often finds it (the write
 * fails once the peer has closed), and its work is stopped at once.
 */
const PAUSED_PROBE_MS = 500;
/** transcribe() options a stream refuses; the handler's defaults may hold them for the HTTP routes. */
const NOT_FOR_STREAMS = ['offsetMs', 'durationMs', 'onProgress', 'onSegment', 'audio', 'detectLanguage'] as const;

const BYTES_PER_SAMPLE: Record<LiveFormat, number | undefined> = { s16: 2, f32: 4, webm: undefined };

function ignore(): void {}

let webSocketModule: typeof import('ws') | undefined;

/** ws is an optional peer dependency: loaded on the first upgrade, so the HTTP routes work without it. */
function loadWs(): typeof import('ws') {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    webSocketModule ??= require('ws') as typeof import('ws');
    return webSocketModule;
  } catch {
    throw new HttpError(501, 'live transcription needs the optional peer dependency ws: npm install ws', { type: 'server_error', code: 'not_implemented' });
  }
}

function unauthorized(): HttpError {
  return new HttpError(401, 'Incorrect API key provided. Send it as `Authorization: Bearer <key>` or as the WebSocket subprotocol `openai-insecure-api-key.<key>`.', {
    code: 'invalid_api_key',
    headers: { 'WWW-Authenticate': 'Bearer' },
  });
}

function forbiddenOrigin(): HttpError {
  return new HttpError(403, "this page's origin may not open live connections here; the server's allowedOrigins (--allow-origin) name those that may", {
    code: 'origin_not_allowed',
  });
}

/** The subprotocols the client offered (Sec-WebSocket-Protocol), in order. */
function offeredProtocols(req: IncomingMessage): string[] {
  const header = req.headers['sec-websocket-protocol'];
  return typeof header === 'string'
    ? header
        .split(',')
        .map((protocol) => protocol.trim())
        .filter((protocol) => protocol !== '')
    : [];
}

/** The key in an `openai-insecure-api-key.<key>` subprotocol, if one was offered. */
function protocolKey(req: IncomingMessage): string | undefined {
  return offeredProtocols(req)
    .find((protocol) => protocol.startsWith(API_KEY_PROTOCOL_PREFIX))
    ?.slice(API_KEY_PROTOCOL_PREFIX.length);
}

/**
 * The subprotocol to answer with: a browser that offered some fails the connection unless one
 * comes back. The first that carries no key, else the key's own (the client's own key, echoed).
 */
function chosenProtocol(protocols: ReadonlySet<string>): string | false {
  const offered = [...protocols];
  return offered.find((protocol) => !protocol.startsWith(API_KEY_PROTOCOL_PREFIX)) ?? offered[0] ?? false;
}

/**
 * Same-origin, or listed: an upgrade with an Origin header comes from a browser page, which
 * may use this server only from its own origin or one the handler allows. No Origin header is
 * a program, not a page, and is allowed (it could send any Origin it liked).
 */
function originAllowed(req: IncomingMessage, allowed: '*' | ReadonlySet<string>): boolean {
  const origin = req.headers.origin;
  if (origin === undefined || allowed === '*') return true;
  if (allowed.has(origin)) return true;
  const host = req.headers.host;
  if (host === undefined) return false;
  try {
    const page = new URL(origin);
    // The scheme the page used is the one the server answered on (TLS ends at a proxy, if anywhere).
    return page.origin === origin && page.host === new URL(`${page.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

/** Answers an upgrade request with an HTTP error instead of a WebSocket. */
function refuse(socket: Duplex, failure: unknown): void {
  const error = toHttpError(failure);
  const body = JSON.stringify(errorBody(error));
  const headers = {
    ...error.details.headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    Connection: 'close',
  };
  const head = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.on('error', () => {});
  socket.end(`HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}\r\n${head.join('')}\r\n${body}`, () => socket.destroy());
}

/** Why this upgrade request is refused, or undefined to accept it. */
function refusalFor(req: IncomingMessage, context: ServerContext, closing: boolean): HttpError | undefined {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname !== LIVE_PATH) return new HttpError(404, `Unknown path ${url.pathname}`, { code: 'not_found' });
  if (closing || context.work.closing) return unavailable('the server is shutting down', 'shutting_down');
  if (!originAllowed(req, context.options.allowedOrigins)) return forbiddenOrigin();
  if (context.keys.open) return undefined;
  const offered = [bearerKey(req), protocolKey(req), url.searchParams.get('api_key') ?? undefined];
  // Every offered key is checked, so the time taken does not say which one was tried.
  const accepted = offered.map((key) => context.keys.accepts(key));
  return accepted.includes(true) ? undefined : unauthorized();
}

/** The most connections at once: as configured, else one per slot of the default model's pool. */
function connectionLimit(context: ServerContext): number {
  if (context.options.maxLiveConnections !== undefined) return context.options.maxLiveConnections;
  const state = context.models.state(context.models.defaultName);
  return state?.status === 'ready' ? state.model.concurrency : 1;
}

function bytesOf(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function outcomeOf(error: unknown): JobOutcome {
  if (isWhisperError(error, 'ABORTED')) return 'aborted';
  if (isWhisperError(error, 'TIMEOUT')) return 'timed_out';
  if (isWhisperError(error, 'QUEUE_FULL') || (error instanceof HttpError && error.status === 503)) return 'rejected';
  return 'failed';
}

function streamDefaults(defaults: TranscribeOptions): StreamOptions {
  const options: Record<string, unknown> = { ...defaults };
  for (const key of NOT_FOR_STREAMS) delete options[key];
  return options as StreamOptions;
}

function streamOptions(context: ServerContext, start: StartMessage, signal: AbortSignal, onBuffer: (samples: number) => void): StreamOptions {
  return {
    ...streamDefaults(context.options.transcribeDefaults),
    format: start.format === 's16' ? 's16' : 'f32',
    signal,
    onBuffer,
    ...(start.language !== undefined ? { language: start.language } : {}),
    ...(start.prompt !== undefined ? { initialPrompt: start.prompt } : {}),
    ...(start.wordTimestamps !== undefined ? { wordTimestamps: start.wordTimestamps } : {}),
    ...(start.windowMs !== undefined ? { windowMs: start.windowMs } : {}),
  };
}

/** Encoded audio in, 16 kHz PCM pieces out, through the audio path (ffmpeg for WebM). */
async function* decodedPcm(bytes: AsyncIterable<Uint8Array>, options: ResolvedAudioOptions, signal: AbortSignal, decoded: (samples: number) => void) {
  const source = await openAudioSource(bytes, options, signal);
  try {
    for (;;) {
      const piece = await source.read(DECODED_PIECE_SAMPLES);
      if (piece.length === 0) return;
      decoded(piece.length);
      yield piece;
    }
  } finally {
    await source.close();
  }
}

type Phase = 'awaiting-start' | 'streaming' | 'stopped' | 'over';

/** One WebSocket connection: its start message, its audio, its transcription and its end. */
class LiveConnection {
  readonly finished: Promise<void>;
  readonly #ws: WebSocket;
  readonly #context: ServerContext;
  readonly #instrumentation: LiveInstrumentation;
  readonly #controller = new AbortController();
  readonly #startedAt = performance.now();
  #phase: Phase = 'awaiting-start';
  #modelName: string;
  #inbox: AudioInbox | undefined;
  /** For PCM formats, what counts the audio received; WebM is counted as it is decoded. */
  #bytesPerSample: number | undefined;
  #windowSamples = 0;
  #receivedSamples = 0;
  #text = '';
  #idleTimer: NodeJS.Timeout | undefined;
  #probe: NodeJS.Timeout | undefined;
  #work: Promise<void> = Promise.resolve();
  #reported = false;

  constructor(ws: WebSocket, context: ServerContext, instrumentation: LiveInstrumentation) {
    this.#ws = ws;
    this.#context = context;
    this.#instrumentation = instrumentation;
    this.#modelName = context.models.defaultName;
    const closed = new Promise<void>((resolve) => ws.once('close', resolve));
    // The work is aborted by then (closing the socket aborts it), so this settles promptly.
    this.finished = closed.then(() => this.#work.then(ignore, ignore));
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    ws.once('close', () => this.#onClose());
    // A socket error is followed by 'close', which settles everything.
    ws.on('error', () => {});
    this.#armIdle();
  }

  /** The server is closing: the client is told, the work aborted. */
  shutdown(): Promise<void> {
    this.#fail(unavailable('the server is shutting down', 'shutting_down'), { closeCode: CLOSE_CODES.goingAway, outcome: 'aborted' });
    return this.finished;
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    try {
      this.#handle(bytesOf(data), isBinary);
    } catch (error) {
      this.#fail(error);
    }
  }

  #handle(data: Buffer, isBinary: boolean): void {
    if (this.#phase === 'over') return;
    if (this.#phase === 'stopped') throw new WhisperError('INVALID_ARGUMENT', 'message: nothing may follow the stop message');
    if (this.#phase === 'streaming' && isBinary) {
      if (this.#bytesPerSample !== undefined) this.#countReceived(data.length / this.#bytesPerSample);
      this.#inbox!.push(data);
      // A paused socket sends nothing, through no fault of the client's.
      if (!this.#inbox!.paused) this.#armIdle();
      return;
    }
    if (isBinary) throw new WhisperError('INVALID_ARGUMENT', 'message: expected the start message (JSON text) first, got binary audio');
    if (data.length > MAX_TEXT_MESSAGE_BYTES) throw new WhisperError('INVALID_ARGUMENT', `message: a text message is at most ${MAX_TEXT_MESSAGE_BYTES} bytes`);
    const message = parseClientMessage(data.toString('utf8'));
    if (this.#phase === 'awaiting-start') {
      if (message.type !== 'start') throw new WhisperError('INVALID_ARGUMENT', 'message: expected the start message first, got stop');
      this.#begin(message);
      return;
    }
    if (message.type === 'start') throw new WhisperError('INVALID_ARGUMENT', 'start: sent twice; one connection is one stream');
    this.#phase = 'stopped';
    this.#clearIdle();
    this.#inbox!.end();
  }

  #begin(start: StartMessage): void {
    // A name the client sent is recorded only once it is known to be served: it labels metrics.
    const canonical = this.#context.models.canonicalName(start.model);
    if (canonical !== undefined) this.#modelName = canonical;
    const { name, model } = this.#context.models.require(start.model);
    this.#bytesPerSample = BYTES_PER_SAMPLE[start.format];
    const limitBytes = this.#bytesPerSample === undefined ? QUEUED_ENCODED_BYTES : QUEUED_AUDIO_SECONDS * WHISPER_SAMPLE_RATE * this.#bytesPerSample;
    const flow = {
      pause: () => {
        this.#ws.pause();
        this.#clearIdle();
        this.#startProbing();
      },
      resume: () => {
        this.#stopProbing();
        this.#ws.resume();
        if (this.#phase === 'streaming') this.#armIdle();
      },
    };
    this.#inbox = new AudioInbox(limitBytes, flow, () => this.#reportHeld());
    this.#work = this.#context.work.start(() => this.#transcribe(model, start));
    this.#phase = 'streaming';
    this.#send({ type: 'ready', model: name, format: start.format });
    this.#work.then(
      () => this.#finish(),
      (error: unknown) => this.#fail(error),
    );
  }

  async #transcribe(model: WhisperModel, start: StartMessage): Promise<void> {
    const signal = this.#controller.signal;
    const inbox = this.#inbox!;
    const onBuffer = (samples: number) => {
      this.#windowSamples = samples;
      this.#reportHeld();
    };
    const options = streamOptions(this.#context, start, signal, onBuffer);
    let pcm: AsyncIterable<Uint8Array | Float32Array> = inbox;
    if (start.format === 'webm') {
      pcm = decodedPcm(inbox, this.#audioOptions(), signal, (samples) => this.#countReceived(samples));
    }
    for await (const segment of model.transcribeStream(pcm, options)) {
      this.#text += segment.text;
      this.#send(segmentMessage(segment));
    }
  }

  #audioOptions(): ResolvedAudioOptions {
    const resolved = resolveAudioOptions(this.#context.options.transcribeDefaults.audio);
    // The audio path holds WAV, FLAC and MP3 streams whole: never more than an upload may be.
    return { ...resolved, maxInputBytes: Math.min(resolved.maxInputBytes, this.#context.options.maxFileSize) };
  }

  /** Counts audio received, and ends the stream once it passes the handler's maxAudioDurationMs. */
  #countReceived(samples: number): void {
    this.#receivedSamples += samples;
    const maxMs = this.#context.options.maxAudioDurationMs;
    if (this.#receivedMs() > maxMs) throw audioTooLong(maxMs);
  }

  #reportHeld(): void {
    this.#instrumentation.onHeld?.({ queuedBytes: this.#inbox?.queuedBytes ?? 0, windowSamples: this.#windowSamples });
  }

  #finish(): void {
    if (this.#phase === 'over') return;
    this.#phase = 'over';
    this.#clearIdle();
    this.#stopProbing();
    this.#send(doneMessage(this.#text, this.#receivedMs()));
    this.#close(CLOSE_CODES.normal, 'done');
    this.#report('completed');
  }

  /** Ends the connection with the error (told to the client when it is still there) and aborts the work. */
  #fail(error: unknown, how: { closeCode?: number; outcome?: JobOutcome } = {}): void {
    if (this.#phase === 'over') return;
    this.#phase = 'over';
    this.#clearIdle();
    this.#stopProbing();
    this.#controller.abort(error);
    this.#inbox?.discard();
    const failure = failureOf(error);
    this.#send(failure.message);
    this.#close(how.closeCode ?? failure.closeCode, failure.reason);
    this.#report(how.outcome ?? outcomeOf(error));
  }

  #onClose(): void {
    this.#clearIdle();
    this.#stopProbing();
    if (this.#phase === 'over') return;
    this.#phase = 'over';
    const gone = new WhisperError('ABORTED', 'the live stream was aborted: the client closed the connection');
    this.#controller.abort(gone);
    this.#inbox?.discard();
    this.#report('aborted');
  }

  #receivedMs(): number {
    return this.#receivedSamples / SAMPLES_PER_MS;
  }

  #report(outcome: JobOutcome): void {
    if (this.#reported) return;
    this.#reported = true;
    this.#context.observer.jobSettled({
      model: this.#modelName,
      endpoint: 'stream',
      outcome,
      ...(outcome === 'completed' ? { audioSeconds: this.#receivedMs() / 1000 } : {}),
      wallSeconds: (performance.now() - this.#startedAt) / 1000,
    });
  }

  #send(message: ServerMessage): void {
    if (this.#ws.readyState === this.#ws.OPEN) this.#ws.send(JSON.stringify(message));
  }

  #close(code: number, reason: string): void {
    if (this.#ws.readyState !== this.#ws.OPEN && this.#ws.readyState !== this.#ws.CONNECTING) return;
    this.#ws.close(code, closeReason(reason));
    const cutOff = setTimeout(() => this.#ws.terminate(), CLOSE_GRACE_MS);
    cutOff.unref();
    this.#ws.once('close', () => clearTimeout(cutOff));
  }

  #armIdle(): void {
    this.#clearIdle();
    const ms = this.#context.options.bodyTimeoutMs;
    const waitingFor = this.#phase === 'awaiting-start' ? 'the start message' : 'audio';
    this.#idleTimer = setTimeout(() => this.#fail(new HttpError(408, `no message for ${ms} ms while waiting for ${waitingFor}`, { code: 'timeout' })), ms);
    this.#idleTimer.unref();
  }

  #clearIdle(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  #startProbing(): void {
    this.#stopProbing();
    this.#probe = setInterval(() => {
      if (this.#ws.readyState === this.#ws.OPEN) this.#ws.ping();
    }, PAUSED_PROBE_MS);
    this.#probe.unref();
  }

  #stopProbing(): void {
    clearInterval(this.#probe);
    this.#probe = undefined;
  }
}

export function createLiveEndpoint(context: ServerContext, instrumentation: LiveInstrumentation = {}): LiveEndpoint {
  const connections = new Set<LiveConnection>();
  let server: WebSocketServer | undefined;
  let closing = false;

  const refuseOverLimit = (ws: WebSocket) => {
    const error = unavailable(`too many live connections (${connectionLimit(context)}); try again later`, 'too_many_connections');
    const failure = failureOf(error);
    ws.on('error', () => {});
    ws.send(JSON.stringify(failure.message));
    ws.close(failure.closeCode, failure.reason);
    context.observer.jobSettled({ model: context.models.defaultName, endpoint: 'stream', outcome: 'rejected', wallSeconds: 0 });
  };

  const admit = (ws: WebSocket) => {
    if (closing) return ws.close(CLOSE_CODES.goingAway, 'the server is shutting down');
    if (connections.size >= connectionLimit(context)) return refuseOverLimit(ws);
    const connection = new LiveConnection(ws, context, instrumentation);
    connections.add(connection);
    void connection.finished.finally(() => connections.delete(connection));
  };

  return {
    handleUpgrade(req, socket, head) {
      try {
        const refusal = refusalFor(req, context, closing);
        if (refusal) return refuse(socket, refusal);
        const { WebSocketServer } = loadWs();
        server ??= new WebSocketServer({
          noServer: true,
          maxPayload: MAX_MESSAGE_BYTES,
          perMessageDeflate: false,
          clientTracking: false,
          handleProtocols: chosenProtocol,
        });
        server.handleUpgrade(req, socket, head, admit);
      } catch (error) {
        refuse(socket, error);
      }
    },
    async close() {
      closing = true;
      await Promise.all([...connections].map((connection) => connection.shutdown()));
      server?.close();
    },
  };
}
