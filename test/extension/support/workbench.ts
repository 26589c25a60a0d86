/**
 * Opens code-server's workbench in headless Chromium (playwright-core) in extension-test mode:
 * the `payload` query names the extensions under development and the suite's `run()` index,
 * exactly as `@vscode/test-electron` would pass them. The extension host's console arrives
 * through `codeAutomationLog`, its exit code through `codeAutomationExit`.
 */
import { existsSync } from 'node:fs';
import { format } from 'node:util';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { INSTALL_COMMAND, type CodeServer } from './code-server';

/** Debian's Chromium (installed by .ci/install-chromium); ROO_SYNC_CHROMIUM overrides. */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  const path = env['ROO_SYNC_CHROMIUM'] || '/usr/bin/chromium';
  if (!existsSync(path)) throw new Error(`Chromium is not installed at ${path}: run \`${INSTALL_COMMAND}\` (or .ci/install-chromium), or set ROO_SYNC_CHROMIUM`);
  return path;
}

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export interface WorkbenchRun {
  /** The folder the workbench opens. */
  folder: string;
  /** Extension folders loaded in development mode (the first is the one under test). */
  extensionPaths: string[];
  /** The suite index's path (a file exporting `run()`). */
  testsPath: string;
  /** Gives up after this long (default 180 s). */
  timeoutMs?: number;
  /**
   * Browser state to reuse (its storage holds the workbench's SecretStorage, so a later run
   * with the same key finds the device signed in, as after a window reload). Default: a new one.
   */
  browserStateKey?: string;
}

export interface WorkbenchResult {
  /** 0 when every test passed. */
  exitCode: number;
  /** The extension host's console lines, in order. */
  log: string[];
  /** Milliseconds from opening the page to the exit code. */
  elapsedMs: number;
}

/** The workbench URL for an extension-test run (shared/reference/extension-tests.md). */
export function workbenchUrl(server: Pick<CodeServer, 'url' | 'port'>, run: WorkbenchRun): string {
  const remote = (path: string) => `vscode-remote://127.0.0.1:${server.port}${path}`;
  const payload: [string, string][] = [
    ...run.extensionPaths.map((p): [string, string] => ['extensionDevelopmentPath', remote(p)]),
    ['extensionTestsPath', remote(run.testsPath)],
  ];
  return `${server.url}/?folder=${encodeURIComponent(run.folder)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

/** One browser for many runs; close it once at the end. */
export class Workbench {
  private browser: Browser | undefined;
  private closing: Promise<void> | undefined;
  private readonly kept = new Map<string, BrowserContext>();

  async launch(): Promise<void> {
    this.browser ??= await chromium.launch({ executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS });
  }

  /** Opens a page, waits for the suite's exit code, closes the page. */
  async run(server: CodeServer, run: WorkbenchRun): Promise<WorkbenchResult> {
    await this.launch();
    const key = run.browserStateKey;
    let context = key ? this.kept.get(key) : undefined;
    if (!context) {
      context = await this.browser!.newContext();
      if (key) this.kept.set(key, context);
    }
    const page = await context.newPage();
    const log: string[] = [];
    const started = Date.now();
    try {
      let exited!: (code: number) => void;
      const exit = new Promise<number>((resolve) => (exited = resolve));
      await page.exposeFunction('codeAutomationExit', (code: number) => exited(code));
      await page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) => {
        log.push(`${type}: ${format(...args)}`);
      });
      await page.goto(workbenchUrl(server, run));
      const timeoutMs = run.timeoutMs ?? 180_000;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the extension host did not finish its suite within ${timeoutMs} ms; its log:\n${log.join('\n')}\ncode-server:\n${server.output().slice(-4000)}`)), timeoutMs);
      });
      try {
        const exitCode = await Promise.race([exit, timeout]);
        return { exitCode, log, elapsedMs: Date.now() - started };
      } finally {
        clearTimeout(timer);
      }
    } finally {
      if (key) await page.close();
      else await context.close();
    }
  }

  /** Idempotent. */
  close(): Promise<void> {
    return (this.closing ??= this.browser ? this.browser.close() : Promise.resolve());
  }
}
