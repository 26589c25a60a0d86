/**
 * Runs the real `roo-sync` command as a child process, through the package's bin script
 * (bin/roo-sync.cjs, which runs the TypeScript sources with tsx in a checkout), and collects
 * its exit code and output. DATABASE_URL, DATA_DIR and REDIS_URL of the parent are removed
 * unless `env` gives them.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const REPO_ROOT = join(__dirname, '..', '..');
export const BIN = join(REPO_ROOT, 'bin', 'roo-sync.cjs');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliRunOptions {
  env?: Record<string, string>;
  /** Written to stdin, which is then closed (default: closed empty). */
  stdin?: string;
  cwd?: string;
}

export function runCliProcess(args: string[], options: CliRunOptions = {}): Promise<CliRun> {
  const env: Record<string, string> = { ...(process.env as Record<string, string>) };
  for (const name of ['DATABASE_URL', 'DATA_DIR', 'REDIS_URL', 'REDIS_KEY_PREFIX', 'PORT', 'LOG_FORMAT']) delete env[name];
  Object.assign(env, options.env);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd ?? REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => { stdout += text; });
    child.stderr.setEncoding('utf8').on('data', (text: string) => { stderr += text; });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}
