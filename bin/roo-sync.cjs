#!/usr/bin/env node
/*
 * The `roo-sync` command (package.json "bin"). In a checkout with its development dependencies
 * (`npm install`), it runs the TypeScript sources through tsx, the same code `npm start` runs,
 * so `npx roo-sync` works with no build step and never runs a stale bundle. Without the sources
 * or tsx (an installed package, a trimmed image) it runs the bundle `dist/cli.js` from
 * `npm run build`.
 */
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const sources = join(root, 'cli', 'main.ts');
const bundle = join(root, 'dist', 'cli.js');

function tsxRegister() {
  try {
    return require('tsx/cjs/api').register;
  } catch {
    return undefined;
  }
}

const register = existsSync(sources) ? tsxRegister() : undefined;
if (register) {
  register();
  require(sources).runCli(process.argv);
} else if (existsSync(bundle)) {
  require(bundle).runCli(process.argv);
} else {
  process.stderr.write('roo-sync: neither the sources with tsx (run `npm install`) nor dist/cli.js (run `npm run build`) were found\n');
  process.exitCode = 1;
}
