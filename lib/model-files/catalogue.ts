/**
 * The models `loadModel` and `whisper-napi models` know by name: whisper.cpp's published ggml
 * files (Hugging Face `ggerganov/whisper.cpp`) and the Silero VAD files (`ggml-org/whisper-vad`).
 * Sizes and SHA-256s are the Git LFS object ids those repositories publish for each file; an
 * entry without a sha256 is checked against the SHA-256 the server states (X-Linked-ETag).
 */
import { WhisperError, invalidArgument } from '../errors/whisper-error';

export interface CatalogueEntry {
  /** What users type: 'base.en', 'large-v3-turbo-q8_0', 'silero-v5.1.2'. */
  name: string;
  kind: 'whisper' | 'vad';
  /** The file name in the model cache. */
  file: string;
  /** The path under the base URL (https://huggingface.co, HF_ENDPOINT or a mirror's). */
  url: string;
  sizeBytes?: number;
  /** Lowercase hex. */
  sha256?: string;
}

const WHISPER_REPOSITORY = 'ggerganov/whisper.cpp/resolve/main';
const VAD_REPOSITORY = 'ggml-org/whisper-vad/resolve/main';

/** [name, bytes, sha256] of every ggml-<name>.bin the whisper.cpp repository publishes. */
const WHISPER_FILES: readonly (readonly [string, number, string])[] = [
  ['tiny', 77_691_713, 'be07e048e1e599ad46341c8d2a135645097a538221678b7acdd1b1919c6e1b21'],
  ['tiny-q5_1', 32_152_673, '818710568da3ca15689e31a743197b520007872ff9576237bda97bd1b469c3d7'],
  ['tiny-q8_0', 43_537_433, 'c2085835d3f50733e2ff6e4b41ae8a2b8d8110461e18821b09a15c40c42d1cca'],
  ['tiny.en', 77_704_715, '921e4cf8686fdd993dcd081a5da5b6c365bfde1162e72b08d75ac75289920b1f'],
  ['tiny.en-q5_1', 32_166_155, 'c77c5766f1cef09b6b7d47f21b546cbddd4157886b3b5d6d4f709e91e66c7c2b'],
  ['tiny.en-q8_0', 43_550_795, '5bc2b3860aa151a4c6e7bb095e1fcce7cf12c7b020ca08dcec0c6d018bb7dd94'],
  ['base', 147_951_465, '60ed5bc3dd14eea856493d334349b405782ddcaf0028d4b5df4088345fba2efe'],
  ['base-q5_1', 59_707_625, '422f1ae452ade6f30a004d7e5c6a43195e4433bc370bf23fac9cc591f01a8898'],
  ['base-q8_0', 81_768_585, 'c577b9a86e7e048a0b7eada054f4dd79a56bbfa911fbdacf900ac5b567cbb7d9'],
  ['base.en', 147_964_211, 'a03779c86df3323075f5e796cb2ce5029f00ec8869eee3fdfb897afe36c6d002'],
  ['base.en-q5_1', 59_721_011, '4baf70dd0d7c4247ba2b81fafd9c01005ac77c2f9ef064e00dcf195d0e2fdd2f'],
  ['base.en-q8_0', 81_781_811, 'a4d4a0768075e13cfd7e19df3ae2dbc4a68d37d36a7dad45e8410c9a34f8c87e'],
  ['small', 487_601_967, '1be3a9b2063867b937e64e2ec7483364a79917e157fa98c5d94b5c1fffea987b'],
  ['small-q5_1', 190_085_487, 'ae85e4a935d7a567bd102fe55afc16bb595bdb618e11b2fc7591bc08120411bb'],
  ['small-q8_0', 264_464_607, '49c8fb02b65e6049d5fa6c04f81f53b867b5ec9540406812c643f177317f779f'],
  ['small.en', 487_614_201, 'c6138d6d58ecc8322097e0f987c32f1be8bb0a18532a3f88f734d1bbf9c41e5d'],
  ['small.en-q5_1', 190_098_681, 'bfdff4894dcb76bbf647d56263ea2a96645423f1669176f4844a1bf8e478ad30'],
  ['small.en-q8_0', 264_477_561, '67a179f608ea6114bd3fdb9060e762b588a3fb3bd00c4387971be4d177958067'],
  ['medium', 1_533_763_059, '6c14d5adee5f86394037b4e4e8b59f1673b6cee10e3cf0b11bbdbee79c156208'],
  ['medium-q5_0', 539_212_467, '19fea4b380c3a618ec4723c3eef2eb785ffba0d0538cf43f8f235e7b3b34220f'],
  ['medium-q8_0', 823_369_779, '42a1ffcbe4167d224232443396968db4d02d4e8e87e213d3ee2e03095dea6502'],
  ['medium.en', 1_533_774_781, 'cc37e93478338ec7700281a7ac30a10128929eb8f427dda2e865faa8f6da4356'],
  ['medium.en-q5_0', 539_225_533, '76733e26ad8fe1c7a5bf7531a9d41917b2adc0f20f2e4f5531688a8c6cd88eb0'],
  ['medium.en-q8_0', 823_382_461, '43fa2cd084de5a04399a896a9a7a786064e221365c01700cea4666005218f11c'],
  ['large-v1', 3_094_623_691, '7d99f41a10525d0206bddadd86760181fa920438b6b33237e3118ff6c83bb53d'],
  ['large-v2', 3_094_623_691, '9a423fe4d40c82774b6af34115b8b935f34152246eb19e80e376071d3f999487'],
  ['large-v2-q5_0', 1_080_732_091, '3a214837221e4530dbc1fe8d734f302af393eb30bd0ed046042ebf4baf70f6f2'],
  ['large-v2-q8_0', 1_656_129_691, 'fef54e6d898246a65c8285bfa83bd1807e27fadf54d5d4e81754c47634737e8c'],
  ['large-v3', 3_095_033_483, '64d182b440b98d5203c4f9bd541544d84c605196c4f7b845dfa11fb23594d1e2'],
  ['large-v3-q5_0', 1_081_140_203, 'd75795ecff3f83b5faa89d1900604ad8c780abd5739fae406de19f23ecd98ad1'],
  ['large-v3-turbo', 1_624_555_275, '1fc70f774d38eb169993ac391eea357ef47c88757ef72ee5943879b7e8e2bc69'],
  ['large-v3-turbo-q5_0', 574_041_195, '394221709cd5ad1f40c46e6031ca61bce88931e6e088c188294c6d5a55ffa7e2'],
  ['large-v3-turbo-q8_0', 874_188_075, '317eb69c11673c9de1e1f0d459b253999804ec71ac4c23c17ecf5fbe24e259a1'],
];

/** [name, bytes, sha256] of the Silero VAD files, as whisper-cli's --vad-model loads them. */
const VAD_FILES: readonly (readonly [string, number, string])[] = [
  ['silero-v5.1.2', 885_098, '29940d98d42b91fbd05ce489f3ecf7c72f0a42f027e4875919a28fb4c04ea2cf'],
  ['silero-v6.2.0', 885_098, '2aa269b785eeb53a82983a20501ddf7c1d9c48e33ab63a41391ac6c9f7fb6987'],
];

function entries(kind: CatalogueEntry['kind'], repository: string, files: typeof WHISPER_FILES): CatalogueEntry[] {
  return files.map(([name, sizeBytes, sha256]) => {
    const file = `ggml-${name}.bin`;
    return Object.freeze({ name, kind, file, url: `${repository}/${file}`, sizeBytes, sha256 });
  });
}

/** Every built-in entry, Whisper models from the smallest, then the VAD models. */
export const MODEL_CATALOGUE: readonly CatalogueEntry[] = Object.freeze([
  ...entries('whisper', WHISPER_REPOSITORY, WHISPER_FILES),
  ...entries('vad', VAD_REPOSITORY, VAD_FILES),
]);

/** Entries a program added with addCatalogueEntry, by name. */
const added = new Map<string, CatalogueEntry>();

/** The built-in catalogue followed by the entries added in this process. */
export function catalogueEntries(): readonly CatalogueEntry[] {
  return added.size === 0 ? MODEL_CATALOGUE : [...MODEL_CATALOGUE, ...added.values()];
}

export function findCatalogueEntry(name: string): CatalogueEntry | undefined {
  return added.get(name) ?? MODEL_CATALOGUE.find((entry) => entry.name === name);
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const SHA256 = /^[0-9a-f]{64}$/;

/**
 * Makes a model of your own loadable by name in this process, e.g. a fine-tuned model on a
 * private mirror: `addCatalogueEntry({ name: 'ours', kind: 'whisper', file: 'ggml-ours.bin',
 * url: 'models/ggml-ours.bin', sha256 })`, then `loadModel('ours', { download: 'auto' })` with
 * HF_ENDPOINT (or `baseUrl`) naming the mirror. A built-in name cannot be replaced; an added one can.
 */
export function addCatalogueEntry(entry: CatalogueEntry): void {
  if (typeof entry !== 'object' || entry === null) throw invalidArgument('entry', 'a catalogue entry object', entry);
  const { name, kind, file, url, sizeBytes, sha256 } = entry;
  if (typeof name !== 'string' || !NAME.test(name) || name.endsWith('.bin')) {
    throw invalidArgument('entry.name', 'a name of letters, digits, dots, dashes and underscores, not ending in .bin', name);
  }
  if (MODEL_CATALOGUE.some((builtIn) => builtIn.name === name)) {
    throw new WhisperError('INVALID_ARGUMENT', `entry.name: '${name}' is a built-in model name; choose another name for your model`);
  }
  if (kind !== 'whisper' && kind !== 'vad') throw invalidArgument('entry.kind', `'whisper' or 'vad'`, kind);
  if (typeof file !== 'string' || !NAME.test(file) || file.endsWith('.part') || file.endsWith('.lock')) {
    throw invalidArgument('entry.file', 'a file name without a directory (letters, digits, dots, dashes, underscores)', file);
  }
  if (typeof url !== 'string' || url.length === 0 || /^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith('/')) {
    throw invalidArgument('entry.url', 'a path under the base URL, e.g. "owner/repo/resolve/main/ggml-x.bin"', url);
  }
  if (sizeBytes !== undefined && !(Number.isSafeInteger(sizeBytes) && sizeBytes > 0)) throw invalidArgument('entry.sizeBytes', 'a positive integer', sizeBytes);
  if (sha256 !== undefined && (typeof sha256 !== 'string' || !SHA256.test(sha256))) throw invalidArgument('entry.sha256', '64 lowercase hex digits', sha256);
  added.set(name, Object.freeze({ name, kind, file, url, ...(sizeBytes === undefined ? {} : { sizeBytes }), ...(sha256 === undefined ? {} : { sha256 }) }));
}

/** Forgets the entries added with addCatalogueEntry (for tests and long-running hosts). */
export function clearAddedCatalogueEntries(): void {
  added.clear();
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/** Up to `limit` catalogue names a mistyped `name` most likely meant, closest first. */
export function closeCatalogueNames(name: string, limit = 3): string[] {
  const wanted = name.toLowerCase();
  const scored = catalogueEntries().map((entry) => {
    const candidate = entry.name.toLowerCase();
    // 'large' or 'turbo' alone should still point at the models that contain it
    const distance = candidate.startsWith(wanted) || candidate.includes(wanted) ? Math.min(editDistance(wanted, candidate), 2) : editDistance(wanted, candidate);
    return { name: entry.name, distance };
  });
  const cutoff = Math.max(2, Math.ceil(wanted.length / 3));
  return scored
    .filter((s) => s.distance <= cutoff)
    .sort((x, y) => x.distance - y.distance || x.name.length - y.name.length)
    .slice(0, limit)
    .map((s) => s.name);
}

/** MODEL_NOT_FOUND for a name the catalogue does not have, with the names it most likely meant. */
export function unknownModelName(name: string, parameter = 'model'): WhisperError {
  const close = closeCatalogueNames(name);
  const hint = close.length > 0 ? ` (did you mean ${close.map((n) => `'${n}'`).join(', ')}?)` : '';
  return new WhisperError(
    'MODEL_NOT_FOUND',
    `${parameter}: no model named '${name}' in the catalogue${hint}; give a path to a ggml model file, or a name from \`whisper-napi models list\``,
  );
}
