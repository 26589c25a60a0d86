/**
 * The relay serves its web page (web/, built by `npm run build` into dist/web) at `/`.
 *
 * The build names every script and style sheet by its content hash (`/assets/app-<hash>.js`)
 * and writes brotli and gzip copies next to them; the relay reads the folder once at start and
 * answers from memory: hashed assets with a year of immutable caching, the page and the
 * manifest with `no-cache` and an ETag, each in the best encoding the browser accepts. Every
 * answer carries a strict Content-Security-Policy: scripts, styles and connections from this
 * origin only (no inline script, no eval), images from this origin or `data:` (task messages
 * carry pasted images as data URLs), no frames, no plugins, no third-party origin.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SyncError } from '../../core/errors';
import type { Router } from './router';

export const WEB_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

/** Headers every answer of the page carries. */
export const WEB_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': WEB_CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const IMMUTABLE = 'public, max-age=31536000, immutable';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

interface Asset {
  type: string;
  cacheControl: string;
  etag: string;
  identity: Buffer;
  br?: Buffer;
  gzip?: Buffer;
}

/** The page's files, in memory, by URL path. */
export class WebAssets {
  private constructor(private readonly files: ReadonlyMap<string, Asset>) {}

  /** Reads a built web folder (with `index.html`); undefined when there is none. */
  static async load(dir: string): Promise<WebAssets | undefined> {
    if (!existsSync(join(dir, 'index.html'))) return undefined;
    const files = new Map<string, Asset>();
    for (const path of await listFiles(dir)) {
      if (path.endsWith('.br') || path.endsWith('.gz')) continue;
      const url = `/${relative(dir, path).split(sep).join('/')}`;
      const identity = await readFile(path);
      const hashed = url.startsWith('/assets/');
      files.set(url, {
        type: TYPES[extname(path)] ?? 'application/octet-stream',
        cacheControl: hashed ? IMMUTABLE : 'no-cache',
        etag: `"${createHash('sha256').update(identity).digest('base64url').slice(0, 22)}"`,
        identity,
        br: await readFile(`${path}.br`).catch(() => undefined),
        gzip: await readFile(`${path}.gz`).catch(() => undefined),
      });
    }
    return new WebAssets(files);
  }

  /** URL paths served, `/index.html` included. */
  get paths(): string[] {
    return [...this.files.keys()];
  }

  /** Answers GET/HEAD of `path` (`/` is the page). False when there is no such file. */
  serve(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    const asset = this.files.get(path === '/' ? '/index.html' : path);
    if (!asset) return false;
    const headers: Record<string, string | number> = {
      ...WEB_SECURITY_HEADERS,
      'content-type': asset.type,
      'cache-control': asset.cacheControl,
      etag: asset.etag,
      vary: 'accept-encoding',
    };
    if (ifNoneMatch(req, asset.etag)) {
      res.writeHead(304, headers).end();
      return true;
    }
    const accepted = req.headers['accept-encoding'] ?? '';
    let body = asset.identity;
    if (asset.br && accepts(accepted, 'br')) {
      body = asset.br;
      headers['content-encoding'] = 'br';
    } else if (asset.gzip && accepts(accepted, 'gzip')) {
      body = asset.gzip;
      headers['content-encoding'] = 'gzip';
    }
    headers['content-length'] = body.length;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }
}

/**
 * Registers `/` and every file of the page. Without a built page, `/` answers 404
 * WEB_NOT_BUILT (the relay still serves its API).
 */
export function registerWebRoutes(router: Router, assets: WebAssets | undefined): void {
  if (!assets) {
    router.add('GET', '/', async () => {
      throw new SyncError('WEB_NOT_BUILT', 'this relay has no web page: build it with `npm run build` (dist/web)');
    });
    return;
  }
  for (const path of ['/', ...assets.paths]) {
    router.add('GET', path, async ({ req, res }) => {
      if (!assets.serve(req, res, path)) throw new SyncError('ROUTE_NOT_FOUND', 'no such endpoint');
    });
  }
}

/** Where a relay finds its page by default: `web/` next to the bundled CLI, or the repository's dist/web. */
export function defaultWebRoot(): string | undefined {
  const candidates = [join(__dirname, 'web'), join(__dirname, '..', '..', 'dist', 'web'), join(__dirname, '..', 'dist', 'web')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html')));
}

function accepts(header: string | string[], encoding: string): boolean {
  const text = Array.isArray(header) ? header.join(',') : header;
  return text.split(',').some((part) => {
    const [name, ...params] = part.trim().split(';');
    if (name?.trim().toLowerCase() !== encoding) return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

function ifNoneMatch(req: IncomingMessage, etag: string): boolean {
  const header = req.headers['if-none-match'];
  return typeof header === 'string' && header.split(',').some((tag) => tag.trim() === etag || tag.trim() === `W/${etag}`);
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out.sort();
}
