/**
 * Runs the built `dist/cli.js` as a child process, as a user would: `buildCli()` bundles it
 * once per test run (the options `npm run build` uses, from esbuild.builds.mjs), `runCli` runs one
 * command to its end and returns its exit code and output, `spawnCli` starts one and leaves it
 * running (sync, a migration to kill midway). Each machine is a folder: HOME, the config and
 * data folders live in it, so two "machines" never share anything. Only the child's own PID is
 * ever signalled.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as esbuild from 'esbuild';

const REPO_ROOT = join(__dirname, '..', '..');
export const CLI_BUNDLE = join(REPO_ROOT, 'dist', 'cli.js');

let built: Promise<void> | undefined;

/** Bundles cli/main.ts into dist/cli.js (once per process) with `npm run build`'s options (esbuild.builds.mjs). */
export function buildCli(): Promise<void> {
  built ??= import('../../esbuild.builds.mjs').then(async ({ cliBuild }) => {
    await esbuild.build({ ...cliBuild, logLevel: 'silent' });
  });
  return built;
}

/** A machine: its home folder and the environment the CLI runs with there. */
export interface Machine {
  home: string;
  env: Record<string, string>;
}

/** A machine in `home` (created): HOME, XDG folders and the CLI's config/data folders inside it. */
export async function machineIn(home: string): Promise<Machine> {
  await mkdir(home, { recursive: true });
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_STATE_HOME: join(home, '.local', 'state'),
    ROO_SYNC_CONFIG_DIR: join(home, '.config', 'roo-sync'),
    NODE_OPTIONS: '',
  };
  return { home, env };
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts `roo-sync <args>` on `machine`; `input` is written to stdin, which is then closed. */
export function spawnCli(machine: Machine, args: readonly string[], options: { input?: string; env?: Record<string, string>; nodeArgs?: readonly string[] } = {}): { child: ChildProcess; done: Promise<CliResult>; stdout(): string; stderr(): string } {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), CLI_BUNDLE, ...args], { cwd: machine.home, env: { ...machine.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin!.end(options.input ?? '');
  const done = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done, stdout: () => stdout, stderr: () => stderr };
}

/** Runs `roo-sync <args>` on `machine` to its end. */
export function runCli(machine: Machine, args: readonly string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return spawnCli(machine, args, options).done;
}

/** Resolves when `read()` matches `pattern` (checked on each chunk of `child`'s output), or rejects when it exits first. */
export function outputMatches(child: ChildProcess, read: () => string, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (pattern.test(read())) {
        cleanup();
        resolve();
      }
    };
    const onExit = (): void => {
      cleanup();
      if (pattern.test(read())) resolve();
      else reject(new Error(`exited before printing ${pattern}: ${read()}`));
    };
    const cleanup = (): void => {
      child.stdout?.off('data', check);
      child.stderr?.off('data', check);
      child.off('close', onExit);
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.once('close', onExit);
    check();
  });
}
