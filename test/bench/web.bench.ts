/**
 * `npm run bench -- web`: the web page in real headless Chromium against a local relay (PGlite).
 *
 * - web.first_paint_ms: from the sign-in form's submit to the task list painted (the frame
 *   after its rows are in the DOM), 1,000 tasks, Chromium's CPU throttled 4x through CDP
 *   (Emulation.setCPUThrottlingRate, a mid-range phone); median of 5 sign-ins. Baseline: the
 *   same without throttling.
 * - web.live_message_ms: p50 from a headless device's push to the message painted in the open
 *   task view, 30 messages. Baseline: p50 of the same pushes' own round trip (device to relay,
 *   commit, ack): what storing a message takes before anyone can be told of it.
 * - web.bundle_kb: the page's JavaScript and CSS as served with brotli, KB. Baseline: the
 *   same with gzip (what a browser without brotli gets).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { createUser } from '../../server/accounts/users';
import { PASSWORD, startTestRelay } from '../server/http/relay-fixture';
import { HeadlessDevice } from '../support/headless-device';
import { openTestPglite } from '../support/pglite';
import { buildPage, CHROMIUM_ARGS, CHROMIUM_PATH, PHONE } from '../web/web-fixture';
import { median, percentile, type Benchmark, type Figure } from './figure';

const TASKS = 1000;
const SIGN_INS = 5;
const MESSAGES = 30;

type Win = { __t?: Record<string, number>; performance: { now(): number }; requestAnimationFrame(cb: () => void): void; document: Doc };
type Doc = { querySelector(s: string): unknown; body: unknown };
type ObserverCtor = new (cb: () => void) => { observe(node: unknown, opts: unknown): void; disconnect(): void };

/** Sign-in submit -> list painted, ms, on a fresh context (its own cookie and web device). */
async function firstPaint(browser: Browser, url: string, email: string, throttle: number): Promise<number> {
  const context = await browser.newContext({ viewport: PHONE });
  try {
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: throttle });
    await page.goto(`${url}/`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.evaluate(() => {
      const g = globalThis as unknown as Win & { MutationObserver: ObserverCtor };
      const doc = g.document as unknown as { querySelector(s: string): { addEventListener(t: string, f: () => void, o: unknown): void } };
      g.__t = {};
      doc.querySelector('form').addEventListener('submit', () => (g.__t!.submit = g.performance.now()), { capture: true });
      const observer = new g.MutationObserver(() => {
        if (!g.document.querySelector('.task-row')) return;
        observer.disconnect();
        g.requestAnimationFrame(() => g.requestAnimationFrame(() => (g.__t!.painted = g.performance.now())));
      });
      observer.observe(g.document.body, { childList: true, subtree: true });
    });
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForFunction(() => (globalThis as unknown as Win).__t?.painted !== undefined, undefined, { timeout: 60_000 });
    const t = await page.evaluate(() => (globalThis as unknown as Win).__t!);
    return t.painted! - t.submit!;
  } finally {
    await context.close();
  }
}

/** Marks, in the page, the wall-clock time each new message is painted (by its data-ts). */
async function watchPaints(page: Page): Promise<void> {
  await page.evaluate(() => {
    const g = globalThis as unknown as Win & { MutationObserver: ObserverCtor; document: Doc & { querySelectorAll(s: string): ArrayLike<{ getAttribute(n: string): string | null }> } };
    g.__t = {};
    const observer = new g.MutationObserver(() => {
      for (const el of Array.from(g.document.querySelectorAll('.message[data-ts]'))) {
        const ts = el.getAttribute('data-ts')!;
        if (g.__t![ts] !== undefined) continue;
        g.__t![ts] = -1;
        g.requestAnimationFrame(() => (g.__t![ts] = Date.now()));
      }
    });
    observer.observe(g.document.querySelector('.messages'), { childList: true, subtree: true });
  });
}

async function run(): Promise<Figure[]> {
  const dir = await mkdtemp(join(tmpdir(), 'web-bench-'));
  const db = await openTestPglite();
  let browser: Browser | undefined;
  const closers: Array<() => Promise<unknown>> = [];
  try {
    const built = await buildPage(join(dir, 'web'));
    const relay = await startTestRelay(db, {}, { webRoot: join(dir, 'web') });
    closers.push(() => relay.close());
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
    const email = 'bench@example.com';
    await createUser(db, { email, password: PASSWORD });
    const device = await HeadlessDevice.signIn({ relayUrl: relay.url, email, password: PASSWORD, name: 'bench laptop' });
    closers.push(() => device.close());
    const now = Date.now();
    await device.pushTasks(Array.from({ length: TASKS }, (_, i) => ({
      taskId: `task-${i}`,
      meta: { id: `task-${i}`, number: i + 1, ts: now - i * 60_000, task: `Task ${i}: refactor module ${i % 37} and add tests`, tokensIn: 1000 + i, tokensOut: 200 + i, totalCost: i / 1000, workspace: `/home/dev/project-${i % 7}` },
    })));

    // First paint, throttled and not (one warm-up sign-in first: the relay's caches and the page's HTTP cache start warm as for a returning user).
    await firstPaint(browser, relay.url, email, 1);
    const plain: number[] = [];
    const throttled: number[] = [];
    for (let i = 0; i < SIGN_INS; i++) {
      plain.push(await firstPaint(browser, relay.url, email, 1));
      throttled.push(await firstPaint(browser, relay.url, email, 4));
    }
    console.log(`first paint, 1,000 tasks: 4x CPU median ${median(throttled).toFixed(0)} ms (${throttled.map((v) => v.toFixed(0)).join(', ')}); unthrottled median ${median(plain).toFixed(0)} ms`);

    // Live message: the device pushes into the open task; the page and a Node live client both receive it.
    await device.pushTask({ taskId: 'live', meta: { id: 'live', ts: now + 1000, task: 'Live task' }, messages: [{ ts: 1, type: 'say', say: 'text', text: 'Live task' }] });
    const context = await browser.newContext({ viewport: PHONE });
    closers.push(() => context.close());
    const page = await context.newPage();
    await page.goto(`${relay.url}/`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.task-row[data-task-id="live"] a').click();
    await page.locator('.message[data-ts="1"]').waitFor();
    await page.locator('.live-online').waitFor();
    await watchPaints(page);

    const pageMs: number[] = [];
    const relayMs: number[] = [];
    for (let i = 0; i < MESSAGES; i++) {
      const ts = 1000 + i;
      const t0 = Date.now();
      await device.pushMessage('live', { ts, type: 'say', say: 'text', text: `Message ${i}: ${'the quick brown fox jumps over the lazy dog '.repeat(4)}` });
      relayMs.push(Date.now() - t0);
      await page.waitForFunction((key) => ((globalThis as unknown as Win).__t?.[key] ?? -1) > 0, String(ts), { timeout: 10_000 });
      const painted = await page.evaluate((key) => (globalThis as unknown as Win).__t![key]!, String(ts));
      pageMs.push(painted - t0);
    }
    console.log(`live message: page p50 ${percentile(pageMs, 50)} ms, p95 ${percentile(pageMs, 95)} ms; the push's own round trip (commit and ack) p50 ${percentile(relayMs, 50)} ms`);

    const served = built.files.filter((f) => f.path.endsWith('.js') || f.path.endsWith('.css'));
    const brotliKb = served.reduce((n, f) => n + f.brotliBytes, 0) / 1024;
    const gzipKb = served.reduce((n, f) => n + readFileSync(join(dir, 'web', `${f.path}.gz`)).length, 0) / 1024;
    console.log(`bundle: ${served.map((f) => `${f.path} ${(f.bytes / 1024).toFixed(1)} KB raw, ${(f.brotliBytes / 1024).toFixed(1)} KB br`).join('; ')}`);

    return [
      { name: 'web.first_paint_ms', value: round(median(throttled)), unit: 'ms', baseline: round(median(plain)), target: '<= 1000' },
      { name: 'web.live_message_ms', value: percentile(pageMs, 50), unit: 'ms', baseline: percentile(relayMs, 50), target: '<= 100' },
      { name: 'web.bundle_kb', value: round(brotliKb, 1), unit: 'KB', baseline: round(gzipKb, 1), target: '<= 150' },
    ];
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await browser?.close();
    await db.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function round(value: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export const benchmark: Benchmark = { name: 'web', run };
