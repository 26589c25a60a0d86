/**
 * Runs one side of a relay benchmark (the devices) in a child process, as real devices are
 * remote: `script` (under test/support) prints one JSON line as its result and exits 0.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** Runs `test/support/<script>` with `args`; resolves with the JSON of the first line starting with `{`. */
export function runBenchChild<T>(script: string, args: readonly string[]): Promise<T> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code === 0 && line) resolve(JSON.parse(line) as T);
      else reject(new Error(`${script} exited ${code}: ${out}`));
    });
  });
}
