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
import { isSyncError } from '../../core/errors';
import { RELAY_OPTIONS } from '../../server/config/options';
import type { RelayConfig } from '../../server/config/relay-config';
import type { RelayServer } from '../../server/relay-server';
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
        const shape = option.switch ? `--${option.flag} ` : option.optionalValue ? `--${option.flag} [${option.optionalValue}]` : `--${option.flag} <value>`;
        assert.ok(help.includes(shape), `--${option.flag} listed`);
        assert.ok(help.includes(option.switch ? `env ${option.env}=1` : `env ${option.env}`), `${option.env} listed`);
      }
      for (const flag of ['--no-migrate ', '--allow-signup ', '--trust-proxy ', '--compaction-interval-seconds <value>']) assert.ok(help.includes(flag), flag);
    });
  });

  describe('server-only switches and the compaction interval', () => {
    /** Runs `roo-sync server ARGS` in-process with `env`; resolves with the config the relay would start with. */
    async function configOf(args: string[], env: Record<string, string> = {}): Promise<RelayConfig> {
      let seen: RelayConfig | undefined;
      const program = new Command('roo-sync').exitOverride();
      registerServerCommand(program, {
        env,
        start: async (config) => {
          seen = config;
          return { close: async () => undefined } as unknown as RelayServer;
        },
        stopSignal: async () => undefined,
      });
      await program.parseAsync(['node', 'roo-sync', 'server', ...args]);
      return seen!;
    }

    async function configInvalid(args: string[], env: Record<string, string> = {}): Promise<Record<string, unknown>> {
      try {
        await configOf(args, env);
      } catch (err) {
        assert.ok(isSyncError(err, 'CONFIG_INVALID'), `expected CONFIG_INVALID, got ${String(err)}`);
        return err.details ?? {};
      }
      return assert.fail('expected CONFIG_INVALID');
    }

    it('defaults: migrate, no sign-up, no proxy, compaction every hour', async () => {
      const config = await configOf([]);
      assert.deepEqual(
        [config.database.migrate, config.auth.allowSignup, config.http.trustProxy, config.sync.compactionIntervalSeconds],
        [true, false, false, 3_600],
      );
    });

    it('takes --no-migrate, --allow-signup, --trust-proxy and --compaction-interval-seconds over the environment', async () => {
      const env = { NO_MIGRATE: '0', ALLOW_SIGNUP: 'no', TRUST_PROXY: 'off', COMPACTION_INTERVAL_SECONDS: '60' };
      const config = await configOf(['--no-migrate', '--allow-signup', '--trust-proxy', '--compaction-interval-seconds', '0'], env);
      assert.deepEqual(
        [config.database.migrate, config.auth.allowSignup, config.http.trustProxy, config.sync.compactionIntervalSeconds],
        [false, true, true, 0],
      );
    });

    it('reads the boolean spellings of NO_MIGRATE, ALLOW_SIGNUP and TRUST_PROXY', async () => {
      for (const yes of ['1', 'true', 'Yes', 'ON']) {
        const config = await configOf([], { NO_MIGRATE: yes, ALLOW_SIGNUP: yes, TRUST_PROXY: yes });
        assert.deepEqual([config.database.migrate, config.auth.allowSignup, config.http.trustProxy], [false, true, true], yes);
      }
      for (const no of ['0', 'false', 'NO', 'off']) {
        const config = await configOf([], { NO_MIGRATE: no, ALLOW_SIGNUP: no, TRUST_PROXY: no });
        assert.deepEqual([config.database.migrate, config.auth.allowSignup, config.http.trustProxy], [true, false, false], no);
      }
    });

    it('refuses bad values with CONFIG_INVALID naming the variable (regression: NO_MIGRATE=maybe was ignored)', async () => {
      for (const env of ['NO_MIGRATE', 'ALLOW_SIGNUP', 'TRUST_PROXY']) {
        const details = await configInvalid([], { [env]: 'maybe' });
        assert.equal(details.option, env);
        assert.equal(details.source, 'env');
      }
      for (const bad of ['abc', '-5', '10s']) {
        const details = await configInvalid([], { COMPACTION_INTERVAL_SECONDS: bad });
        assert.equal(details.option, 'COMPACTION_INTERVAL_SECONDS', bad);
      }
    });

    it('refuses a bad --compaction-interval-seconds with CONFIG_INVALID naming the flag', async () => {
      const details = await configInvalid(['--compaction-interval-seconds', 'abc']);
      assert.equal(details.option, '--compaction-interval-seconds');
      assert.equal(details.source, 'flag');
    });

    it('prints the error and exits 1 for COMPACTION_INTERVAL_SECONDS=abc (regression: it exited 1 printing nothing)', async function () {
      this.timeout(60_000);
      const env: Record<string, string> = { ...(process.env as Record<string, string>), COMPACTION_INTERVAL_SECONDS: 'abc' };
      delete env.DATABASE_URL;
      delete env.REDIS_URL;
      const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', '..', 'cli', 'main.ts'), 'server', '--port', '0'], {
        cwd: join(__dirname, '..', '..'),
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (text: string) => { stderr += text; });
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      assert.equal(code, 1);
      assert.match(stderr, /roo-sync: \[CONFIG_INVALID\] .*COMPACTION_INTERVAL_SECONDS: must be a whole number/);
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
      const printed = start.config as RelayConfig;
      assert.deepEqual(
        [printed.database.migrate, printed.auth.allowSignup, printed.http.trustProxy, printed.sync.compactionIntervalSeconds],
        [true, false, false, 3_600],
        'the start log prints the server-only options with the rest of the configuration',
      );
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
