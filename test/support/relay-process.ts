/**
 * Runs the real `roo-sync server` as a child process (node + tsx on cli/main.ts), by default on
 * the embedded PGlite in a given DATA_DIR with the in-process cache, on 127.0.0.1 port 0. The
 * bound URL is read from the JSON start log (`msg: "relay listening"`). Stop it with SIGTERM
 * (`stop()`) and look at how it exited; `kill()` is for cleanup after a failed test. Only the
 * child's own PID is ever signalled.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';

const REPO_ROOT = join(__dirname, '..', '..');
const CLI = join(REPO_ROOT, 'cli', 'main.ts');

export interface RelayProcessOptions {
  dataDir: string;
  /** More `roo-sync server` arguments. */
  args?: string[];
  /** Environment on top of the parent's (DATABASE_URL and REDIS_URL are removed unless given here). */
  env?: Record<string, string>;
  /**
   * Run a built bundle (`<app>/dist/cli.js`) with plain node from `<app>` instead of the
   * TypeScript source through tsx: what the production image runs.
   */
  bundle?: string;
  /** How long to wait for the start log. Default 60 s (a new PGlite data directory takes several seconds). */
  startTimeoutMs?: number;
}

export interface RelayExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RelayProcess {
  readonly url: string;
  readonly pid: number;
  /** Every JSON log line so far (stdout). */
  readonly logs: Array<Record<string, unknown>>;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Sends SIGTERM and waits for the exit (at most `timeoutMs`, default 20 s, then SIGKILL and reject). */
  stop(timeoutMs?: number): Promise<RelayExit>;
  /** SIGKILL when still running (cleanup). */
  kill(): Promise<void>;
}

export async function startRelayProcess(options: RelayProcessOptions): Promise<RelayProcess> {
  const env: Record<string, string> = { ...(process.env as Record<string, string>) };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  delete env.PORT;
  Object.assign(env, { LOG_LEVEL: 'info' }, options.env);
  const entry = options.bundle ? [options.bundle] : ['--import', 'tsx', CLI];
  const child: ChildProcess = spawn(
    process.execPath,
    [...entry, 'server', '--port', '0', '--data-dir', options.dataDir, ...(options.args ?? [])],
    { cwd: options.bundle ? join(dirname(options.bundle), '..') : REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (text: string) => { stderr += text; });
  const exited = new Promise<RelayExit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay did not start within ${options.startTimeoutMs ?? 60_000} ms; stderr: ${stderr}`)), options.startTimeoutMs ?? 60_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        logs.push({ msg: line, unparsed: true });
        return;
      }
      logs.push(entry);
      if (entry.msg === 'relay listening' && typeof entry.url === 'string') {
        clearTimeout(timer);
        resolve(entry.url);
      }
    });
    void exited.then((exit) => {
      clearTimeout(timer);
      reject(new Error(`relay exited before listening (code ${exit.code}, signal ${exit.signal}); stderr: ${stderr}`));
    });
  }).catch(async (err: unknown) => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    throw err;
  });

  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    url,
    pid: child.pid!,
    logs,
    stderr: () => stderr,
    async stop(timeoutMs = 20_000) {
      if (running()) child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          if (running()) child.kill('SIGKILL');
          reject(new Error(`relay did not exit within ${timeoutMs} ms of SIGTERM`));
        }, timeoutMs);
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    async kill() {
      if (running()) child.kill('SIGKILL');
      await exited;
    },
  };
}
