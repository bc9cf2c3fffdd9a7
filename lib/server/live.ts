/** Live transcription over WebSocket at /v1/audio/stream. (Stub: filled in by the live-mode work.) */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ServerContext } from './context';

export interface LiveEndpoint {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Closes every live connection and resolves when their work has stopped. */
  close(): Promise<void>;
}

export function createLiveEndpoint(_context: ServerContext): LiveEndpoint {
  return {
    handleUpgrade(_req, socket) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    },
    async close() {},
  };
}
