// Copies the server's page (lib/server/page: plain HTML, CSS and JS, no build step) to
// dist/server/page, where dist/server/routes/page.js finds it (run after tsc; `npm run build`
// runs it). The folder is replaced whole, so a file removed from the page leaves no copy behind.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const from = path.join(root, 'lib', 'server', 'page');
const to = path.join(root, 'dist', 'server', 'page');

fs.rmSync(to, { recursive: true, force: true });
fs.mkdirSync(to, { recursive: true });
const names = fs.readdirSync(from).filter((name) => fs.statSync(path.join(from, name)).isFile());
for (const name of names) fs.copyFileSync(path.join(from, name), path.join(to, name));
console.log(`copy-page: ${names.length} files to ${path.relative(root, to)}`);
