import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '../..');
/** ../shared beside the clone: real audio and header-only models (read-only). */
export const SHARED = path.resolve(REPO_ROOT, '..', 'shared');
export const JFK_WAV = path.join(SHARED, 'audio', 'jfk.wav');
