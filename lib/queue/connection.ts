/** A redis:// or rediss:// URL as BullMQ connection options. Needs nothing from bullmq, so the CLI can check its --redis before loading it. */
import { invalidArgument } from '../errors/whisper-error';

export interface RedisConnectionOptions {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
  tls?: Record<string, never>;
}

const DEFAULT_REDIS_PORT = 6379;
const EXPECTED = 'a Redis URL: redis://[user:password@]host[:port][/db] (rediss:// for TLS)';

export function redisConnectionFromUrl(name: string, value: unknown): RedisConnectionOptions {
  if (typeof value !== 'string') throw invalidArgument(name, EXPECTED, value);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidArgument(name, EXPECTED, value);
  }
  if ((url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '') throw invalidArgument(name, EXPECTED, value);
  const dbText = url.pathname.replace(/^\//, '');
  if (dbText !== '' && !/^\d+$/.test(dbText)) throw invalidArgument(name, `${EXPECTED}; the path is the database number`, value);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    host,
    port: url.port === '' ? DEFAULT_REDIS_PORT : Number(url.port),
    ...(url.username !== '' ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password !== '' ? { password: decodeURIComponent(url.password) } : {}),
    ...(dbText !== '' ? { db: Number(dbText) } : {}),
    ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}
