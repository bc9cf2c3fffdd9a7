// Writes the API reports of the two package entries (api/whisper-napi.api.md for
// 'whisper-napi', api/whisper-napi-tools.api.md for 'whisper-napi/tools') from the built
// declarations, with API Extractor. Needs `npm run build` first.
//
//   node scripts/api-report.mjs           refresh the reports (`npm run api:report`)
//   node scripts/api-report.mjs --check   exit 1, changing nothing, if a report is out of date
//
// A report lists every exported declaration with its full signature, and the declarations they
// reference that no entry exports (marked ae-forgotten-export), so a change to the public
// surface shows up as a diff in review.
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
const REFRESH = 'npm run build && npm run api:report';

const ENTRIES = [
  { declarations: 'dist/index.d.ts', report: 'whisper-napi.api.md' },
  { declarations: 'dist/tools/index.d.ts', report: 'whisper-napi-tools.api.md' },
  { declarations: 'dist/server/index.d.ts', report: 'whisper-napi-server.api.md' },
  { declarations: 'dist/queue/index.d.ts', report: 'whisper-napi-queue.api.md' },
];

// Our doc comments are prose, not TSDoc, and the package has no release tags: neither is what
// the reports are for.
const QUIET = { logLevel: 'none' };

function extractorConfig(entry, tempFolder) {
  return ExtractorConfig.prepare({
    configObject: {
      projectFolder: root,
      mainEntryPointFilePath: `<projectFolder>/${entry.declarations}`,
      compiler: { tsconfigFilePath: '<projectFolder>/tsconfig.build.json' },
      apiReport: { enabled: true, reportFileName: entry.report, reportFolder: '<projectFolder>/api/', reportTempFolder: tempFolder },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      messages: {
        compilerMessageReporting: { default: { logLevel: 'warning' } },
        extractorMessageReporting: {
          default: { logLevel: 'warning' },
          'ae-missing-release-tag': QUIET,
          'ae-undocumented': QUIET,
          'ae-forgotten-export': { logLevel: 'none', addToApiReportFile: true },
        },
        tsdocMessageReporting: { default: QUIET },
      },
    },
    configObjectFullPath: undefined,
    packageJsonFullPath: path.join(root, 'package.json'),
  });
}

const tempFolder = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-napi-api-'));
const stale = [];
let failed = false;
try {
  for (const entry of ENTRIES) {
    if (!fs.existsSync(path.join(root, entry.declarations))) {
      throw new Error(`${entry.declarations} is missing: run \`npm run build\` first`);
    }
    const result = Extractor.invoke(extractorConfig(entry, tempFolder), {
      localBuild: !check,
      messageCallback(message) {
        // In --check mode the changed report is ours to describe, below.
        if (message.messageId === 'console-api-report-changed' || message.messageId === 'console-api-report-missing') message.handled = true;
      },
    });
    if (result.apiReportChanged) stale.push(`api/${entry.report}`);
    if (result.errorCount > 0 || result.warningCount > 0) failed = true;
  }
} finally {
  fs.rmSync(tempFolder, { recursive: true, force: true });
}
if (check && stale.length > 0) {
  process.stderr.write(`${stale.join(' and ')} ${stale.length > 1 ? 'are' : 'is'} out of date with the built declarations: run \`${REFRESH}\` and commit the result\n`);
  process.exit(1);
}
if (failed) process.exit(1);
if (!check && stale.length > 0) process.stdout.write(`updated ${stale.join(', ')}\n`);
