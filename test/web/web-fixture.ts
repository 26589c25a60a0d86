/**
 * The web page's browser tests: the page built from web/ into a temp folder, a real relay over
 * PGlite serving it (127.0.0.1, port 0), real headless Chromium through playwright-core, and
 * headless devices (test/support/headless-device.ts) that push tasks and answer commands.
 * A missing Chromium fails the suite with the command that installs it; it is never skipped.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { createUser } from '../../server/accounts/users';
import type { PgliteDatabase } from '../../server/db/pglite-database';
import type { RelayServer } from '../../server/relay-server';
import { HeadlessDevice } from '../support/headless-device';
import { openTestPglite } from '../support/pglite';
import { PASSWORD, startTestRelay } from '../server/http/relay-fixture';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** Where the tests write their screenshots (gitignored). */
export const SCREENSHOT_DIR = resolve(__dirname, '../../.tmp/web-screenshots');

export const PHONE = { width: 360, height: 740 };
export const DESKTOP = { width: 1280, height: 800 };

/** Builds the page (web/build-web.mjs, an ES module) into `outDir`. */
export async function buildPage(outDir: string, minify = true): Promise<{ files: Array<{ path: string; bytes: number; brotliBytes: number }> }> {
  const { buildWeb } = await import('../../web/build-web.mjs');
  return buildWeb({ outDir, minify, logLevel: 'error' });
}

export interface WebFixture {
  relay(): RelayServer;
  db(): PgliteDatabase;
  browser(): Browser;
  /** A new browser context (its own cookies), closed after the test. */
  context(options?: BrowserContextOptions): Promise<BrowserContext>;
  /** A new account with the test password. */
  user(prefix: string): Promise<string>;
  /** A headless device of `email`, closed after the test. */
  device(email: string, name: string, options?: { online?: boolean; kind?: 'vscode' | 'cli' }): Promise<HeadlessDevice>;
  /** A page signed in as `email` on the task list. */
  signedIn(email: string, options?: BrowserContextOptions): Promise<Page>;
}

/** Mocha hooks: built page, relay and browser for the suite; contexts and devices per test. */
export function useWebFixture(): WebFixture {
  let dir = '';
  let db: PgliteDatabase | undefined;
  let relay: RelayServer | undefined;
  let browser: Browser | undefined;
  let userCount = 0;
  const closers: Array<() => Promise<unknown>> = [];

  before(async function () {
    this.timeout(60_000);
    dir = await mkdtemp(join(tmpdir(), 'web-test-'));
    await buildPage(join(dir, 'web'));
    db = await openTestPglite();
    relay = await startTestRelay(db, {}, { webRoot: join(dir, 'web') });
    if (!existsSync(CHROMIUM_PATH)) {
      throw new Error(`Chromium is not installed at ${CHROMIUM_PATH}: run \`bash .ci/install-chromium\` (as root), or set CHROMIUM_PATH`);
    }
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
    await mkdir(SCREENSHOT_DIR, { recursive: true });
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  });
  after(async () => {
    await browser?.close();
    await relay?.close();
    await db?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const fixture: WebFixture = {
    relay: () => relay!,
    db: () => db!,
    browser: () => browser!,
    async context(options = {}) {
      const context = await browser!.newContext({ viewport: PHONE, ...options });
      closers.push(() => context.close());
      return context;
    },
    async user(prefix) {
      const email = `${prefix}${++userCount}-${Date.now()}@example.com`;
      await createUser(db!, { email, password: PASSWORD });
      return email;
    },
    async device(email, name, options = {}) {
      const device = await HeadlessDevice.signIn({ relayUrl: relay!.url, email, password: PASSWORD, name, online: options.online, kind: options.kind });
      closers.push(() => device.close());
      return device;
    },
    async signedIn(email, options = {}) {
      const context = await fixture.context(options);
      const page = await context.newPage();
      await page.goto(`${relay!.url}/`);
      await signInOn(page, email);
      return page;
    },
  };
  return fixture;
}

/** Fills the sign-in form and waits for the task list. */
export async function signInOn(page: Page, email: string, password = PASSWORD): Promise<void> {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('status').filter({ hasText: /\d+ tasks?$/ }).waitFor();
}

/** Runs axe-core in the page; returns the serious and critical violations (id: help, targets). */
export async function axeViolations(page: Page): Promise<string[]> {
  const source = await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  // evaluate runs over the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(source);
  const result = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: Array<{ id: string; impact: string; help: string; nodes: Array<{ target: string[] }> }> }> } }).axe;
    const { violations } = await axe.run((globalThis as unknown as { document: unknown }).document, { resultTypes: ['violations'] });
    return violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
  });
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.targets.join(', ')}`);
}

/** Saves a screenshot `<name>-<width>.png` into SCREENSHOT_DIR. */
export async function screenshot(page: Page, name: string): Promise<void> {
  const width = page.viewportSize()?.width ?? 0;
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}-${width}.png`), fullPage: false });
}
