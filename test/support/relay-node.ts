/**
 * One relay process of a multi-relay deployment for the fault suite and the load bench: the built
 * `dist/cli.js server` (what users run) on a fixed 127.0.0.1 port, on a given PostgreSQL and
 * Redis. The port stays the same across `kill()` and `start()`, so a proxy in front keeps its
 * upstream list. Only the child's own PID is ever signalled.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CLI_BUNDLE } from './cli-process';
import { freePort } from './free-port';

export interface RelayNodeOptions {
  databaseUrl: string;
  redisUrl?: string;
  /** More environment (rate limits, log level). */
  env?: Record<string, string>;
  /** Node options before the script, e.g. `--cpu-prof --cpu-prof-dir=DIR` to profile the relay. */
  nodeArgs?: string[];
}

export interface RelayNode {
  readonly port: number;
  readonly url: string;
  pid(): number | undefined;
  running(): boolean;
  /** Starts it (again) on its port; resolves once it listens. */
  start(): Promise<void>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM and wait (SIGKILL after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<void>;
  /** Log lines with level warn or error so far (JSON objects). */
  problems(): Array<Record<string, unknown>>;
}

export async function createRelayNode(options: RelayNodeOptions): Promise<RelayNode> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const problems: Array<Record<string, unknown>> = [];
  const alive = (): boolean => !!child && child.exitCode === null && child.signalCode === null;
  const node: RelayNode = {
    port,
    url: `http://127.0.0.1:${port}`,
    pid: () => child?.pid,
    running: alive,
    async start() {
      if (alive()) return;
      const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', LOG_LEVEL: 'info', LOG_FORMAT: 'json', ...options.env };
      const args = [...(options.nodeArgs ?? []), CLI_BUNDLE, 'server', '--host', '127.0.0.1', '--port', String(port), '--database-url', options.databaseUrl];
      if (options.redisUrl) args.push('--redis-url', options.redisUrl);
      const proc = spawn(process.execPath, args, { cwd: join(CLI_BUNDLE, '..', '..'), env, stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;
      let stderr = '';
      proc.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-8000); });
      exited = new Promise((resolve) => proc.once('exit', () => resolve()));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`relay on ${port} did not listen in 60 s: ${stderr}`)), 60_000);
        createInterface({ input: proc.stdout! }).on('line', (line) => {
          let entry: Record<string, unknown>;
          try {
            entry = JSON.parse(line) as Record<string, unknown>;
          } catch {
            return;
          }
          if (entry.msg === 'relay listening') {
            clearTimeout(timer);
            resolve();
          } else if (entry.level === 'warn' || entry.level === 'error' || entry.level === 40 || entry.level === 50) {
            if (problems.length < 500) problems.push(entry);
          }
        });
        proc.once('exit', (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`relay on ${port} exited (${code ?? signal}) before listening: ${stderr}`));
        });
      });
    },
    async kill() {
      if (alive()) child!.kill('SIGKILL');
      await exited;
    },
    async stop(timeoutMs = 15_000) {
      if (!alive()) return;
      child!.kill('SIGTERM');
      const timer = setTimeout(() => { if (alive()) child!.kill('SIGKILL'); }, timeoutMs);
      await exited;
      clearTimeout(timer);
    },
    problems: () => problems,
  };
  return node;
}
