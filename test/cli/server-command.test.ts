/**
 * `roo-sync server`: its --help lists every relay option, and the real command started as a
 * child process on PGlite in a temporary DATA_DIR serves, then stops cleanly on SIGTERM.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { Command } from 'commander';
import { registerServerCommand } from '../../cli/commands/server';
import { RELAY_OPTIONS } from '../../server/config/options';
import { startRelayProcess, type RelayProcess } from '../support/relay-process';

describe('roo-sync server', () => {
  describe('--help', () => {
    it('lists every relay option with its environment variable, and the server-only flags', () => {
      const program = new Command('roo-sync').exitOverride();
      let help = '';
      program.configureOutput({ writeOut: (text) => { help += text; }, writeErr: (text) => { help += text; } });
      registerServerCommand(program);
      assert.throws(() => program.parse(['node', 'roo-sync', 'server', '--help']), (err: unknown) => (err as { code?: string }).code === 'commander.helpDisplayed');
      for (const option of RELAY_OPTIONS) {
        assert.ok(help.includes(`--${option.flag} <value>`), `--${option.flag} listed`);
        assert.ok(help.includes(`env ${option.env}`), `${option.env} listed`);
      }
      for (const flag of ['--no-migrate', '--allow-signup', '--compaction-interval-seconds']) assert.ok(help.includes(flag), flag);
    });
  });

  describe('as a child process on the embedded PGlite', function () {
    this.timeout(120_000);
    let dataDir: string;
    let relay: RelayProcess | undefined;

    before(() => {
      dataDir = mkdtempSync(join(tmpdir(), 'roo-sync-server-'));
    });
    after(async () => {
      await relay?.kill();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('logs its URL as JSON, says it runs embedded, serves, and exits 0 on SIGTERM', async () => {
      relay = await startRelayProcess({ dataDir: join(dataDir, 'data') });
      assert.match(relay.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const start = relay.logs.find((l) => l.msg === 'relay listening')!;
      assert.equal(start.level, 'info');
      assert.match(String(start.database), /embedded PGlite/);
      assert.equal(start.cache, 'in-process');
      assert.ok(relay.logs.some((l) => l.msg === 'embedded mode: single relay process'));
      assert.ok(relay.logs.some((l) => l.msg === 'migrations applied'));

      const health = await fetch(`${relay.url}/healthz`);
      assert.equal(health.status, 200);
      const ready = (await (await fetch(`${relay.url}/readyz`)).json()) as { status: string; database: { kind: string } };
      assert.equal(ready.status, 'ready');
      assert.equal(ready.database.kind, 'pglite');
      const metrics = await (await fetch(`${relay.url}/metrics`)).text();
      assert.match(metrics, /roo_sync_db_query_duration_seconds_bucket/);
      assert.match(metrics, /roo_sync_process_cpu/);

      const exit = await relay.stop();
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.ok(relay.logs.some((l) => l.msg === 'relay stopped'));
      assert.equal(relay.stderr(), '');
      await assert.rejects(fetch(`${relay.url}/healthz`));
    });

    it('serves an account made by `roo-sync user add` with the password piped on stdin', async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', '..', 'cli', 'main.ts'), 'user', 'add', 'ann@example.com', '--password-stdin', '--data-dir', join(dataDir, 'data')], {
        cwd: join(__dirname, '..', '..'),
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => { out += d; });
      child.stderr.on('data', (d) => { out += d; });
      child.stdin.end('piped secret pass\n');
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      assert.equal(code, 0, out);
      assert.match(out, /created user ann@example\.com/);
      assert.ok(!out.includes('piped secret pass'));

      relay = await startRelayProcess({ dataDir: join(dataDir, 'data') });
      const login = await fetch(`${relay.url}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'ann@example.com', password: 'piped secret pass', device: { name: 'cli test' } }),
      });
      assert.equal(login.status, 200);
      assert.deepEqual(await relay.stop(), { code: 0, signal: null });
      assert.ok(!relay.logs.some((l) => JSON.stringify(l).includes('piped secret pass')));
    });

    it('reopens the same DATA_DIR after a restart, with nothing left to migrate', async () => {
      relay = await startRelayProcess({ dataDir: join(dataDir, 'data') });
      assert.ok(!relay.logs.some((l) => l.msg === 'migrations applied'));
      assert.deepEqual(await relay.stop(), { code: 0, signal: null });
    });
  });
});
