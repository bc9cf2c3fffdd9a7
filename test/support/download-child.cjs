// A second process for the download tests: downloads one model with the library's
// downloadModel, compiled to CommonJS by the test into COMPILED (lib/ transpiled file by file),
// and prints one JSON line: {path} or {code, message}.
//
//   node test/support/download-child.cjs COMPILED ENTRY_JSON MODELS_DIR BASE_URL
'use strict';
const path = require('node:path');

async function main() {
  const [compiled, entryJson, modelsDir, baseUrl] = process.argv.slice(2);
  const catalogue = require(path.join(compiled, 'lib', 'model-files', 'catalogue.js'));
  const { downloadModel } = require(path.join(compiled, 'lib', 'model-files', 'download.js'));
  const entry = JSON.parse(entryJson);
  catalogue.addCatalogueEntry(entry);
  try {
    const file = await downloadModel(entry.name, { modelsDir, baseUrl });
    process.stdout.write(`${JSON.stringify({ path: file })}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ code: error.code, message: error.message })}\n`);
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exitCode = 1;
});
