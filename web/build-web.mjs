// Builds the web page (web/src) into a folder the relay serves (server/http/web-assets.ts):
//   index.html                     no-cache; names the hashed files below
//   assets/app-<hash>.js, .css     content-hashed (immutable caching), with .br and .gz copies
//   manifest.webmanifest, icons/   the installable app's manifest and icons
// Used by esbuild.config.mjs (dist/web), the browser tests and the web benchmark.
import * as esbuild from 'esbuild';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, crc32, deflateSync, gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));

/** The page's theme colour (manifest, meta theme-color, icon background). */
const THEME = '#1d4ed8';

/**
 * Builds the page into `outDir` (emptied first). Returns the asset paths (relative to outDir)
 * and their sizes, raw and brotli-compressed.
 * @param {{ outDir: string, minify?: boolean, logLevel?: import('esbuild').LogLevel }} options
 * @returns {Promise<{ files: Array<{ path: string, bytes: number, brotliBytes: number }> }>}
 */
export async function buildWeb({ outDir, minify = true, logLevel = 'warning' }) {
  const out = resolve(outDir);
  await rm(out, { recursive: true, force: true });
  await mkdir(join(out, 'icons'), { recursive: true });
  const result = await esbuild.build({
    entryPoints: { app: join(here, 'src', 'main.tsx') },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome110', 'safari16', 'firefox115'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify,
    outdir: join(out, 'assets'),
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    metafile: true,
    legalComments: 'none',
    logLevel,
    tsconfig: join(here, 'tsconfig.json'),
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const outputs = Object.keys(result.metafile.outputs).map((p) => resolve(p));
  const script = outputs.find((p) => p.endsWith('.js'));
  const style = outputs.find((p) => p.endsWith('.css'));
  if (!script || !style) throw new Error('web build: the bundle has no script or no style sheet');
  const url = (p) => `/${relative(out, p).split('\\').join('/')}`;

  await writeFile(join(out, 'index.html'), indexHtml(url(script), url(style)));
  await writeFile(join(out, 'manifest.webmanifest'), JSON.stringify(manifest(), null, 2));
  await writeFile(join(out, 'icons', 'icon.svg'), await readFile(join(here, 'public', 'icon.svg')));
  for (const size of [192, 512]) await writeFile(join(out, 'icons', `icon-${size}.png`), iconPng(size));

  const files = [];
  for (const path of [script, style, join(out, 'index.html'), join(out, 'manifest.webmanifest'), join(out, 'icons', 'icon.svg')]) {
    const bytes = await readFile(path);
    const br = brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } });
    await writeFile(`${path}.br`, br);
    await writeFile(`${path}.gz`, gzipSync(bytes, { level: 9 }));
    files.push({ path: relative(out, path).split('\\').join('/'), bytes: bytes.length, brotliBytes: br.length });
  }
  return { files };
}

function indexHtml(script, style) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="theme-color" content="${THEME}">
<meta name="color-scheme" content="light dark">
<title>roo-sync</title>
<link rel="manifest" href="/manifest.webmanifest">
<link rel="icon" href="/icons/icon.svg" type="image/svg+xml">
<link rel="apple-touch-icon" href="/icons/icon-192.png">
<link rel="stylesheet" href="${style}">
<script type="module" src="${script}"></script>
</head>
<body>
<div id="app"></div>
<noscript>roo-sync needs JavaScript.</noscript>
</body>
</html>
`;
}

function manifest() {
  return {
    name: 'roo-sync',
    short_name: 'roo-sync',
    description: 'Your AI coding assistants\' task history, and remote control of a running task.',
    start_url: '/',
    scope: '/',
    display: 'standalone',
    background_color: '#ffffff',
    theme_color: THEME,
    icons: [
      { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png' },
      { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any maskable' },
      { src: '/icons/icon.svg', sizes: 'any', type: 'image/svg+xml' },
    ],
  };
}

/** A square PNG icon: the theme colour with a white ring (the SVG icon's shape), drawn here so the build needs no image tool. */
function iconPng(size) {
  const [r, g, b] = [0x1d, 0x4e, 0xd8];
  const rows = [];
  const c = size / 2;
  const outer = size * 0.3;
  const inner = size * 0.2;
  for (let y = 0; y < size; y++) {
    const row = Buffer.alloc(1 + size * 4);
    for (let x = 0; x < size; x++) {
      const d = Math.hypot(x + 0.5 - c, y + 0.5 - c);
      const angle = Math.atan2(y + 0.5 - c, x + 0.5 - c);
      // Two gaps in the ring, like the two arrows of a sync symbol.
      const gap = Math.abs(Math.sin(angle)) < 0.18 && Math.cos(angle) * (y < c ? 1 : -1) > -2;
      const ring = d <= outer && d >= inner && !gap;
      const o = 1 + x * 4;
      row[o] = ring ? 255 : r;
      row[o + 1] = ring ? 255 : g;
      row[o + 2] = ring ? 255 : b;
      row[o + 3] = 255;
    }
    rows.push(row);
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8;
  ihdr[9] = 6;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const quiet = args.includes('--quiet');
  const outDir = args.find((a) => !a.startsWith('--')) ?? 'dist/web';
  const { files } = await buildWeb({ outDir, logLevel: quiet ? 'warning' : 'info' });
  if (!quiet) for (const f of files) console.log(`${f.path}  ${f.bytes} B, ${f.brotliBytes} B brotli`);
}
