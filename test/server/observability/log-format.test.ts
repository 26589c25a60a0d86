/**
 * Logs a person can read: one short human line per event on a terminal, JSON lines anywhere
 * else or with LOG_FORMAT=json; no stack on a warning; the migrations' statements never in the
 * slow-query log; the start line names what ties the relay to one process, not "embedded mode"
 * when Redis is in use. The terminal is a real pseudo-terminal (util-linux `script`).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { loadRelayConfig } from '../../../server/config/load-config';
import { createLogger, type LogFormat } from '../../../server/observability/logger';
import { startRelayServer } from '../../../server/relay-server';
import { BIN } from '../../support/cli-bin-process';
import { openTestPglite } from '../../support/pglite';
import { testRedisUrl, uniquePrefix } from '../../support/redis';
import { startRelayProcess } from '../../support/relay-process';

const CLOCK = (): Date => new Date('2026-01-02T03:04:05.678Z');

function capture(format?: LogFormat, isTTY?: boolean): { logger: ReturnType<typeof createLogger>; text: () => string } {
  let text = '';
  const sink = { write: (line: string) => { text += line; }, isTTY };
  return { logger: createLogger({ level: 'trace', sink, clock: CLOCK, format }), text: () => text };
}

describe('log format', function () {
  this.timeout(90_000);

  describe('createLogger', () => {
    it('writes one short human line on a terminal: time, level, message, scalar fields, error message and code', () => {
      const { logger, text } = capture(undefined, true);
      logger.child({ component: 'relay' }).warn('redis pub/sub unavailable', {
        url: 'http://127.0.0.1:8787', count: 3, reason: 'two words', versions: [1, 2], config: { big: true },
        err: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6390'), { code: 'ECONNREFUSED' }),
      });
      assert.equal(
        text(),
        '03:04:05.678Z WARN  redis pub/sub unavailable url=http://127.0.0.1:8787 count=3 reason="two words" versions=1,2 err="connect ECONNREFUSED 127.0.0.1:6390 [ECONNREFUSED]"\n',
      );
    });

    it('writes JSON when the sink is not a terminal, and when told to on one', () => {
      for (const { format, isTTY } of [{ format: undefined, isTTY: false }, { format: 'json' as const, isTTY: true }]) {
        const { logger, text } = capture(format, isTTY);
        logger.info('relay listening', { port: 1 });
        assert.deepEqual(JSON.parse(text()), { level: 'info', time: '2026-01-02T03:04:05.678Z', msg: 'relay listening', port: 1 });
      }
    });

    it('gives a warning the error message without its stack; an error keeps the stack', () => {
      const { logger, text } = capture('json');
      logger.warn('redis down', { err: new Error('ECONNREFUSED'), nested: { error: new Error('inner') } });
      logger.error('request failed', { err: new Error('boom') });
      const [warn, error] = text().trim().split('\n').map((line) => JSON.parse(line) as Record<string, Record<string, unknown>>);
      assert.equal(warn!.err!.message, 'ECONNREFUSED');
      assert.doesNotMatch(JSON.stringify(warn), /stack/);
      assert.match(String(error!.err!.stack), /boom/);
    });
  });

  describe('the relay', () => {
    let dir: string;
    before(() => { dir = mkdtempSync(join(tmpdir(), 'roo-logs-')); });
    after(() => rmSync(dir, { recursive: true, force: true }));

    /** `roo-sync server` under `script` (a pseudo-terminal); resolves with its output up to the start line. */
    async function onTerminal(env: Record<string, string>, until: RegExp): Promise<string> {
      const command = `exec '${process.execPath}' '${BIN}' server --port 0 --host 127.0.0.1 --data-dir '${join(dir, 'tty')}'`;
      const childEnv: Record<string, string> = { ...(process.env as Record<string, string>), ...env };
      for (const name of ['DATABASE_URL', 'REDIS_URL', 'PORT', 'LOG_FORMAT']) if (!(name in env)) delete childEnv[name];
      const child: ChildProcess = spawn('script', ['-qfec', command, '/dev/null'], { env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      try {
        return await new Promise<string>((resolve, reject) => {
          child.stdout!.setEncoding('utf8').on('data', (text: string) => {
            out += text;
            if (until.test(out)) resolve(out);
          });
          child.once('exit', (code) => reject(new Error(`script exited (${code}) before the start line: ${out}`)));
        });
      } finally {
        // script ends the relay on the terminal it runs it in (SIGTERM to script, our own child).
        const exited = new Promise((resolve) => child.once('exit', resolve));
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
      }
    }

    it('writes short human lines on a terminal', async () => {
      const out = await onTerminal({ LOG_LEVEL: 'info' }, /relay listening[^\n]*\n/);
      const lines = out.split(/\r?\n/).filter((line) => line.length > 0);
      const start = lines.find((line) => line.includes('relay listening'))!;
      assert.match(start, /^\d\d:\d\d:\d\d\.\d{3}Z INFO  relay listening url=http:\/\/127\.0\.0\.1:\d+ port=\d+ database="embedded PGlite in [^"]+" cache=in-process$/);
      assert.ok(start.length < 200, `one short line: ${start}`);
      assert.ok(lines.every((line) => !line.startsWith('{')), out);
    });

    it('writes JSON lines on a terminal with LOG_FORMAT=json', async () => {
      const out = await onTerminal({ LOG_LEVEL: 'info', LOG_FORMAT: 'json' }, /"relay listening"[^\n]*\n/);
      const start = out.split(/\r?\n/).find((line) => line.includes('relay listening'))!;
      assert.equal((JSON.parse(start) as { msg: string }).msg, 'relay listening');
    });

    it('writes JSON lines off a terminal, and leaves the migrations out of the slow-query log', async () => {
      // Every statement counts as slow (0 ms): the migrations' must still not be logged as such.
      const relay = await startRelayProcess({ dataDir: join(dir, 'pipe'), env: { DB_SLOW_QUERY_MS: '0' } });
      try {
        assert.ok(relay.logs.every((entry) => !entry.unparsed), 'every line is JSON');
        assert.ok(relay.logs.some((entry) => entry.msg === 'migrations applied'));
        const slow = relay.logs.filter((entry) => entry.msg === 'slow query').map((entry) => String(entry.sql));
        assert.deepEqual(slow.filter((sql) => /CREATE (TABLE|INDEX)|schema_migrations/i.test(sql)), []);
      } finally {
        await relay.stop();
      }
    });

    it('does not say "embedded mode" when Redis is in use, and warns about Redis without a stack', async () => {
      // A port nothing listens on: Redis is configured but down.
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const downPort = (closed.address() as AddressInfo).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));

      for (const [redisUrl, wait] of [[testRedisUrl(), 2_000], [`redis://127.0.0.1:${downPort}`, 200]] as const) {
        const lines: Array<Record<string, unknown>> = [];
        const logger = createLogger({ level: 'info', format: 'json', sink: { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) } });
        const config = loadRelayConfig({ env: { PORT: '0', HOST: '127.0.0.1', REDIS_URL: redisUrl, REDIS_KEY_PREFIX: uniquePrefix('logs'), LOG_LEVEL: 'info' } });
        const db = await openTestPglite();
        const relay = await startRelayServer(config, { db, logger }, { redisWaitMs: wait, compactionIntervalMs: 0 });
        try {
          const messages = lines.map((line) => String(line.msg));
          assert.ok(!messages.includes('embedded mode: single relay process'), messages.join(' | '));
          assert.ok(messages.includes('embedded database (PGlite): single relay process'), messages.join(' | '));
          const warnings = lines.filter((line) => line.level === 'warn');
          assert.doesNotMatch(JSON.stringify(warnings), /"stack"/);
          if (wait === 200) assert.ok(warnings.some((line) => /redis|revocation/i.test(String(line.msg))), messages.join(' | '));
        } finally {
          await relay.close();
          await db.close();
        }
      }
    });
  });
});
