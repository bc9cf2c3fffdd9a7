/** `whisper-napi models`: the catalogue's models by name: which are cached, download, locate and remove them. */
import path from 'node:path';
import { WhisperError } from '../../errors/whisper-error';
import { findCatalogueEntry, unknownModelName } from '../../model-files/catalogue';
import { cachedModelPath, defaultModelsDir, listModels, removeModel, type ModelListing } from '../../model-files/model-cache';
import { parseCommandArgs, type ParsedCommandArgs } from '../args';
import { usageError, type Command, type CommandContext } from '../command';
import { errorLine } from '../errors';
import { downloadWithProgress } from '../model-argument';
import { byteSize, progressMode } from '../progress';

const OPTIONS = {
  'models-dir': { type: 'string' },
  json: { type: 'boolean' },
  cached: { type: 'boolean' },
  'base-url': { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  progress: { type: 'boolean' },
} as const;

type Values = ParsedCommandArgs<typeof OPTIONS>['values'];

const SUBCOMMANDS = ['list', 'download', 'path', 'rm'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

/** The options each subcommand takes, besides --models-dir, --help and --verbose. */
const SUBCOMMAND_OPTIONS: Record<Subcommand, readonly string[]> = {
  list: ['json', 'cached'],
  download: ['base-url', 'quiet', 'progress'],
  path: [],
  rm: [],
};

export const modelsCommand: Command = {
  name: 'models',
  synopsis: 'models list|download|path|rm',
  summary: 'models by name: list, download, locate, remove',
  usage: `Usage: whisper-napi models <subcommand> [options]

  list [--cached] [--json]   every model the catalogue names (whisper.cpp's ggml models and
                             Silero VAD): kind, size, and whether it is in the model cache
  download <name...>         download into the model cache; the SHA-256 is checked before the
                             file gets its name, and a cut download resumes. Ctrl-C stops it
                             and keeps the part. Prints each file's path.
      --base-url <url>       a mirror (default: $HF_ENDPOINT, or https://huggingface.co)
      -q, --quiet            no progress; --progress: plain lines when stderr is no terminal
  path <name>                the cached file's path (exit 1 when it is not downloaded)
  rm <name...>               remove a cached model and any partial download of it

Options:
  --models-dir <dir>         the model cache (default: $WHISPER_NAPI_MODELS, or
                             ~/.cache/whisper-napi/models)
  --verbose                  the stack of an error
  -h, --help                 this help

Offline (WHISPER_NAPI_OFFLINE=1), download never touches the network and says what is missing.`,
  async run(args, context) {
    const { values, positionals } = parseCommandArgs(args, OPTIONS);
    const [subcommand, ...names] = positionals;
    if (subcommand === undefined) usageError(`models needs a subcommand: ${SUBCOMMANDS.join(', ')}`);
    if (!(SUBCOMMANDS as readonly string[]).includes(subcommand)) usageError(`unknown subcommand "${subcommand}" (expected ${SUBCOMMANDS.join(', ')})`);
    const which = subcommand as Subcommand;
    for (const option of ['json', 'cached', 'base-url', 'quiet', 'progress'] as const) {
      if (values[option] !== undefined && !SUBCOMMAND_OPTIONS[which].includes(option)) usageError(`--${option} does not go with models ${which}`);
    }
    const modelsDir = values['models-dir'];
    switch (which) {
      case 'list':
        if (names.length > 0) usageError('models list takes no names');
        return list(values, modelsDir);
      case 'download':
        if (names.length === 0) usageError('models download needs a model name (see `whisper-napi models list`)');
        return download(names, values, modelsDir, context);
      case 'path':
        if (names.length !== 1) usageError('models path needs exactly one model name');
        return printPath(names[0], modelsDir);
      case 'rm':
        if (names.length === 0) usageError('models rm needs a model name');
        return remove(names, modelsDir, values.verbose === true);
    }
  },
};

/** The catalogue entry of `name`, or MODEL_NOT_FOUND with the names it most likely meant. */
function known(name: string, subcommand: Subcommand): void {
  if (findCatalogueEntry(name) === undefined) throw unknownModelName(name, `models ${subcommand}`);
}

async function list(values: Values, modelsDir: string | undefined): Promise<void> {
  const listing = (await listModels(modelsDir !== undefined ? { modelsDir } : {})).filter((model) => !values.cached || model.cached);
  if (values.json) {
    const rows = listing.map(({ entry, path: file, cached, cachedBytes }) => ({ ...entry, cached, path: file, ...(cachedBytes !== undefined ? { cachedBytes } : {}) }));
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  process.stdout.write(table(listing));
  const cached = listing.filter((model) => model.cached);
  const cachedBytes = cached.reduce((sum, model) => sum + (model.cachedBytes ?? 0), 0);
  process.stdout.write(`\nmodel cache: ${modelsDir !== undefined ? path.resolve(modelsDir) : defaultModelsDir()} (${cached.length} cached, ${byteSize(cachedBytes)})\n`);
}

function table(listing: readonly ModelListing[]): string {
  const rows = [
    ['NAME', 'KIND', 'SIZE', 'CACHED'],
    ...listing.map(({ entry, cached, cachedBytes }) => [
      entry.name,
      entry.kind,
      entry.sizeBytes === undefined ? '?' : byteSize(entry.sizeBytes),
      cached ? (cachedBytes === entry.sizeBytes ? 'yes' : `yes (${byteSize(cachedBytes ?? 0)})`) : '',
    ]),
  ];
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) => `${row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]))).join('  ')}`.trimEnd() + '\n').join('');
}

async function download(names: string[], values: Values, modelsDir: string | undefined, context: CommandContext): Promise<void> {
  for (const name of names) known(name, 'download');
  const mode = progressMode(values);
  let failed = 0;
  for (const name of names) {
    if (context.signal.aborted) break;
    try {
      const file = await downloadWithProgress(name, { modelsDir, baseUrl: values['base-url'], mode, signal: context.signal });
      process.stdout.write(`${file}\n`);
    } catch (error) {
      failed++;
      process.stderr.write(errorLine(error, values.verbose === true, name));
      if (context.signal.aborted) process.stderr.write(`whisper-napi: ${name}: the part downloaded so far is kept; run the same command again to resume\n`);
    }
  }
  if (failed > 0) process.exitCode = 1;
}

async function printPath(name: string, modelsDir: string | undefined): Promise<void> {
  known(name, 'path');
  const file = cachedModelPath(name, modelsDir);
  const listing = (await listModels(modelsDir !== undefined ? { modelsDir } : {})).find((model) => model.entry.name === name);
  if (!listing?.cached) {
    throw new WhisperError('MODEL_NOT_FOUND', `models path: '${name}' is not downloaded (no ${file}); run \`whisper-napi models download ${name}\``);
  }
  process.stdout.write(`${file}\n`);
}

async function remove(names: string[], modelsDir: string | undefined, verbose: boolean): Promise<void> {
  for (const name of names) known(name, 'rm');
  let failed = 0;
  for (const name of names) {
    try {
      const file = cachedModelPath(name, modelsDir);
      if (await removeModel(name, modelsDir !== undefined ? { modelsDir } : {})) {
        process.stdout.write(`removed ${file}\n`);
        continue;
      }
      throw new WhisperError('MODEL_NOT_FOUND', `models rm: '${name}' is not downloaded (no ${file})`);
    } catch (error) {
      failed++;
      process.stderr.write(errorLine(error, verbose));
    }
  }
  if (failed > 0) process.exitCode = 1;
}
