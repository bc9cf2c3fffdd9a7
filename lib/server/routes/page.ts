/**
 * GET / and /page/*: the page to try the server, served from the package (lib/server/page,
 * copied to dist/server/page by the build). Only the files in that folder whose names are
 * plain (letters, digits, dashes, one known extension) are served, so no path reaches outside
 * it however it is encoded. The page revalidates on every load (no-cache with an ETag); the
 * assets are cached for an hour and revalidate by ETag too.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { Route } from '../handler';
import { HttpError } from '../openai-errors';

/** lib/server/page beside lib/server/routes, and dist/server/page beside dist/server/routes. */
export const PAGE_DIR = path.resolve(__dirname, '..', 'page');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

const ASSET_NAME = /^[a-z0-9][a-z0-9-]*\.(html|js|css|svg|png|ico)$/;
const ASSET_MAX_AGE_SECONDS = 3600;
/** The page talks only to this server, and loads nothing from anywhere else. */
const CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'";

interface Asset {
  body: Buffer;
  etag: string;
  contentType: string;
}

function notFound(what: string): HttpError {
  return new HttpError(404, `Unknown path ${what}`, { code: 'not_found' });
}

/** The asset's file name for a request path, or undefined when it names no servable file. */
export function assetName(requestPath: string): string | undefined {
  if (requestPath === '/') return 'index.html';
  if (!requestPath.startsWith('/page/')) return undefined;
  let name: string;
  try {
    name = decodeURIComponent(requestPath.slice('/page/'.length));
  } catch {
    return undefined;
  }
  return ASSET_NAME.test(name) ? name : undefined;
}

async function readAsset(name: string): Promise<Asset | undefined> {
  let body: Buffer;
  try {
    body = await fs.readFile(path.join(PAGE_DIR, name));
  } catch {
    return undefined;
  }
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return { body, etag, contentType: CONTENT_TYPES[path.extname(name)]! };
}

function requestPath(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

function send(req: IncomingMessage, res: ServerResponse, asset: Asset, isPage: boolean): void {
  const headers: Record<string, string> = {
    ETag: asset.etag,
    'Cache-Control': isPage ? 'no-cache' : `public, max-age=${ASSET_MAX_AGE_SECONDS}`,
    'X-Content-Type-Options': 'nosniff',
  };
  if (isPage) headers['Content-Security-Policy'] = CONTENT_SECURITY_POLICY;
  const cached = req.headers['if-none-match'];
  if (cached !== undefined && cached.split(',').some((tag) => tag.trim().replace(/^W\//, '') === asset.etag)) {
    res.writeHead(304, headers).end();
    return;
  }
  res.writeHead(200, { ...headers, 'Content-Type': asset.contentType, 'Content-Length': String(asset.body.length) });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}

export const pageRoute: Route = async (req, res) => {
  req.resume();
  const wanted = requestPath(req);
  const name = assetName(wanted);
  const asset = name === undefined ? undefined : await readAsset(name);
  if (asset === undefined) throw notFound(wanted);
  send(req, res, asset, name === 'index.html');
};
