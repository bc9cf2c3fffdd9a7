/**
 * A multipart/form-data body read with busboy into its text fields and the one uploaded file,
 * held in memory as the chunks that arrived (never a temporary file). OpenAI's clients send the
 * file before the other fields, so nothing can start before the form ends; what is held is
 * bounded by the file limit, counted as bytes arrive, whatever the client claims.
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type busboy from 'busboy';
import { HttpError } from './openai-errors';

export interface MultipartLimits {
  /** Largest file, in bytes. One byte more is 413 at once. */
  maxFileSize: number;
  /** No bytes for this long is 408. */
  bodyTimeoutMs: number;
}

export interface ReceivedFile {
  field: string;
  filename: string;
  mimeType: string;
  bytes: number;
  /** The file as it arrived; taken (emptied) by `takeChunks`. */
  chunks: Buffer[];
}

export interface ReceivedForm {
  /** Every text field by name, in the order its values came. */
  fields: Map<string, string[]>;
  file: ReceivedFile | undefined;
}

/** The field OpenAI's API reads the audio from. */
export const FILE_FIELD = 'file';
/** Far more than OpenAI's fields need, so a form of thousands of parts is refused early. */
export const MAX_FIELDS = 64;
/** Every OpenAI field is short; the longest, `prompt`, is bounded at 4 KiB by openai-fields.ts. */
export const MAX_FIELD_BYTES = 8 * 1024;
const MAX_PARTS = MAX_FIELDS + 1;
/**
 * What a form adds around the file: boundaries, part headers and the text fields. A
 * Content-Length above maxFileSize plus this can only be a file over the limit.
 */
export const MULTIPART_OVERHEAD = 256 * 1024;

let busboyModule: typeof busboy | undefined;

/** busboy is an optional peer dependency: loaded on the first upload, so the other routes work without it. */
function loadBusboy(): typeof busboy {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    busboyModule ??= require('busboy') as typeof busboy;
    return busboyModule;
  } catch {
    throw new HttpError(501, 'uploads need the optional peer dependency busboy: npm install busboy', { type: 'server_error', code: 'not_implemented' });
  }
}

const MULTIPART_TYPE = /^multipart\/form-data\s*(;|$)/i;

export function isMultipart(req: IncomingMessage): boolean {
  return MULTIPART_TYPE.test(req.headers['content-type'] ?? '');
}

/** An upload over the limit: the connection is closed after the answer, so the rest is never read. */
export function tooLarge(maxFileSize: number): HttpError {
  return new HttpError(413, `file: larger than the limit of ${maxFileSize} bytes`, {
    param: FILE_FIELD,
    code: 'file_too_large',
    headers: { Connection: 'close' },
  });
}

/** 413 before reading, when the stated length already cannot fit. */
export function declaredTooLarge(req: IncomingMessage, maxFileSize: number): HttpError | undefined {
  const declared = Number(req.headers['content-length']);
  return Number.isFinite(declared) && declared > maxFileSize + MULTIPART_OVERHEAD ? tooLarge(maxFileSize) : undefined;
}

function malformed(detail: string): HttpError {
  return new HttpError(400, `the multipart body is malformed: ${detail}`, { code: 'invalid_multipart' });
}

function stalled(timeoutMs: number): HttpError {
  return new HttpError(408, `the request body sent nothing for ${timeoutMs} ms`, { code: 'request_timeout', headers: { Connection: 'close' } });
}

/**
 * How long a connection refused mid-body (413, 408) keeps reading and dropping what the client
 * still sends before it is closed: clients that write the whole body before reading the answer
 * (fetch, and so OpenAI's client) would otherwise see a reset instead of the answer.
 */
export const LINGER_MS = 2000;

/**
 * Ends a connection whose body is not read to the end: the answer (sent with `Connection:
 * close`) goes out and the write side closes, what still arrives is dropped without being
 * parsed or held, and the socket is destroyed when the client closes its side or LINGER_MS
 * has passed, whichever is first. Call before sending the answer.
 */
export function closeAfterAnswer(req: IncomingMessage): void {
  const socket = req.socket;
  // node:http destroys the socket as soon as a `Connection: close` answer is written; half-close instead.
  socket.destroySoon = () => {
    if (socket.writable) socket.end();
  };
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.once('end', () => socket.destroy());
  req.on('data', () => {});
  req.resume();
}

/**
 * The chunks of a received file as a byte stream that lets go of each chunk as it is read, so
 * the file's memory is freed while it is transcribed.
 */
export async function* takeChunks(file: ReceivedFile): AsyncGenerator<Uint8Array, void, undefined> {
  while (file.chunks.length > 0) yield file.chunks.shift()!;
}

/**
 * Reads the form. Rejects with an HttpError: 400 malformed, a second file, too many fields or
 * a field too long; 413 the moment the file passes maxFileSize; 408 when no bytes come for
 * bodyTimeoutMs; and with the signal's reason when it fires. On any rejection the body is no
 * longer read and what was held is dropped.
 */
export function readMultipart(req: IncomingMessage, limits: MultipartLimits, signal: AbortSignal): Promise<ReceivedForm> {
  const parse = loadBusboy();
  return new Promise((resolve, reject) => {
    const form: ReceivedForm = { fields: new Map(), file: undefined };
    let parser: busboy.Busboy;
    try {
      parser = parse({
        headers: req.headers,
        limits: { files: 1, fileSize: limits.maxFileSize + 1, fields: MAX_FIELDS, fieldSize: MAX_FIELD_BYTES, parts: MAX_PARTS },
      });
    } catch (error) {
      reject(malformed((error as Error).message.toLowerCase()));
      return;
    }
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const armTimer = () => {
      clearTimeout(timer);
      timer = setTimeout(() => fail(stalled(limits.bodyTimeoutMs)), limits.bodyTimeoutMs);
    };
    const cleanUp = () => {
      clearTimeout(timer);
      req.off('data', armTimer);
      signal.removeEventListener('abort', onAbort);
      req.unpipe(parser);
    };
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      cleanUp();
      if (form.file) form.file.chunks.length = 0;
      parser.removeAllListeners();
      // busboy may still report on what was written to it (and throws if destroyed inside its own
      // callbacks): nobody listens any more, and it is destroyed once it has returned.
      parser.on('error', () => {});
      setImmediate(() => parser.destroy());
      reject(error);
    };
    const onAbort = () => fail(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });

    parser.on('file', (field, stream, info) => receiveFile(field, stream, info));
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) return fail(malformed(`the field \`${name}\` is longer than ${MAX_FIELD_BYTES} bytes`));
      const values = form.fields.get(name) ?? [];
      values.push(value);
      form.fields.set(name, values);
    });
    parser.on('filesLimit', () => fail(new HttpError(400, 'file: only one file may be uploaded', { param: FILE_FIELD, code: 'too_many_files' })));
    parser.on('fieldsLimit', () => fail(malformed(`more than ${MAX_FIELDS} fields`)));
    parser.on('partsLimit', () => fail(malformed(`more than ${MAX_PARTS} parts`)));
    parser.on('error', (error: Error) => fail(malformed(error.message.toLowerCase())));
    parser.on('close', () => {
      if (settled) return;
      settled = true;
      cleanUp();
      resolve(form);
    });

    function receiveFile(field: string, stream: Readable, info: busboy.FileInfo): void {
      if (field !== FILE_FIELD) {
        stream.on('error', () => {});
        stream.resume();
        return fail(new HttpError(400, `file: the audio must be sent in the field \`${FILE_FIELD}\`, not \`${field}\``, { param: FILE_FIELD, code: 'invalid_value' }));
      }
      const file: ReceivedFile = { field, filename: info.filename ?? '', mimeType: info.mimeType, bytes: 0, chunks: [] };
      form.file = file;
      stream.on('error', () => {});
      stream.on('data', (chunk: Buffer) => {
        if (settled) return;
        file.bytes += chunk.length;
        file.chunks.push(chunk);
      });
      stream.on('limit', () => fail(tooLarge(limits.maxFileSize)));
    }

    req.on('data', armTimer);
    armTimer();
    req.pipe(parser);
  });
}
