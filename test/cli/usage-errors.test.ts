/**
 * How the real `roo-sync` answers a mistake on its command line: the error and one line
 * pointing to --help (not the whole help), exit code 2; and a database given twice
 * (--database-url with --data-dir) is refused, not silently resolved.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { USAGE_HINT } from '../../cli/main';
import { BIN, runCliProcess } from '../support/cli-bin-process';

describe('roo-sync usage errors', function () {
  this.timeout(60_000);

  it('prints the error and one line pointing to --help, not the whole help, and exits 2', async () => {
    for (const args of [['user', 'add'], ['db', 'bogus'], ['device', 'list', 'ann@example.com', '--no-such-flag']]) {
      const run = await runCliProcess(args);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      const lines = run.stderr.trim().split('\n');
      assert.equal(lines.length, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(lines[0]!, /^roo-sync: \[CLI_USAGE\] /);
      assert.equal(lines[1], USAGE_HINT);
      assert.doesNotMatch(run.stderr, /Usage:/);
    }
  });

  it('ends quietly with its own exit code when the reader closes the pipe early (roo-sync --help | head)', async () => {
    const child = spawn(process.execPath, [BIN, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    // The reader is gone before the CLI writes its first line: every write meets EPIPE.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    assert.equal(stderr, '');
    assert.equal(code, 0);
  });

  it('still prints the whole help on --help, exit 0', async () => {
    const run = await runCliProcess(['user', '--help']);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /Usage: roo-sync user/);
  });

  describe('--database-url with --data-dir', () => {
    let dir: string;
    before(() => { dir = mkdtempSync(join(tmpdir(), 'roo-usage-')); });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('is a usage error (exit 2) for the admin, db and server commands, and touches no database', async () => {
      const dataDir = join(dir, 'data');
      const url = 'postgres://postgres@127.0.0.1:1/none';
      for (const args of [
        ['user', 'add', 'ann@example.com', '--database-url', url, '--data-dir', dataDir],
        ['db', 'status', '--database-url', url, '--data-dir', dataDir],
        ['device', 'list', 'ann@example.com', '--data-dir', dataDir],
        ['server', '--database-url', url, '--data-dir', dataDir, '--port', '0'],
      ]) {
        // The third has DATABASE_URL from the environment and --data-dir on the command line.
        const run = await runCliProcess(args, { env: { DATABASE_URL: url }, stdin: 'a strong password\n' });
        assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
        assert.match(run.stderr, /--data-dir name two databases/);
        assert.match(run.stderr.split('\n')[0]!, /--database-url|DATABASE_URL/);
      }
      assert.ok(!existsSync(dataDir), 'no data directory was created');
    });
  });
});
