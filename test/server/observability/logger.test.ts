import assert from 'node:assert/strict';
import { SyncError } from '../../../core/errors';
import { createLogger, parseLogLevel, type LogLevel } from '../../../server/observability/logger';

const SECRETS = ['hunter2', 'tok_abc123', 'refresh_xyz', 'cookie_val', 'sekrit', 'Bearer-payload-99', 'pw_in_query', 'apikey_777'];

function capture(level: LogLevel = 'trace'): { lines: () => Array<Record<string, unknown>>; raw: () => string; logger: ReturnType<typeof createLogger> } {
  const chunks: string[] = [];
  const logger = createLogger({ level, sink: { write: (line) => chunks.push(line) }, clock: () => new Date('2026-01-02T03:04:05.000Z') });
  return { logger, raw: () => chunks.join(''), lines: () => chunks.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('createLogger', () => {
  describe('#info', () => {
    it('writes one JSON object per line with level, time, msg and the fields', () => {
      const { logger, lines, raw } = capture();
      logger.info('relay started', { port: 8787, mode: { database: 'pglite' } });
      assert.ok(raw().endsWith('\n'));
      assert.deepEqual(lines(), [{ level: 'info', time: '2026-01-02T03:04:05.000Z', msg: 'relay started', port: 8787, mode: { database: 'pglite' } }]);
    });

    it('keeps a caller field named like a reserved one apart from it', () => {
      const { logger, lines } = capture();
      logger.info('x', { level: 'mine', msg: 'also mine' });
      const [line] = lines();
      assert.equal(line?.level, 'info');
      assert.equal(line?.msg, 'x');
      assert.equal(line?.field_level, 'mine');
      assert.equal(line?.field_msg, 'also mine');
    });

    it('serialises errors with their code and details, and survives cycles and bigints', () => {
      const { logger, lines } = capture();
      const cyclic: Record<string, unknown> = { name: 'loop' };
      cyclic.self = cyclic;
      logger.error('failed', { error: new SyncError('DB_DOWN', 'database is down', { attempt: 2 }), cyclic, big: 10n });
      const [line] = lines();
      const error = line?.error as Record<string, unknown>;
      assert.equal(error.code, 'DB_DOWN');
      assert.equal(error.message, 'database is down');
      assert.deepEqual(error.details, { attempt: 2 });
      assert.deepEqual(line?.cyclic, { name: 'loop', self: '[Circular]' });
      assert.equal(line?.big, '10');
    });
  });

  describe('redaction', () => {
    it('never writes a secret, whatever its depth or shape', () => {
      const { logger, raw, lines } = capture();
      logger.info('sign-in from postgres://app:hunter2@db/x', {
        token: 'tok_abc123',
        device: { auth: { refreshToken: 'refresh_xyz', accessTokenTtlSeconds: 900 } },
        headers: { Authorization: 'Bearer Bearer-payload-99', cookie: 'cookie_val', 'x-api-key': 'apikey_777' },
        list: [{ clientSecret: 'sekrit' }],
        databaseUrl: 'postgres://app:hunter2@db:5432/roo?password=pw_in_query',
        note: 'header was Authorization: Bearer Bearer-payload-99',
        error: new Error('connect to redis://:hunter2@cache failed'),
      });
      const text = raw();
      for (const secret of SECRETS) assert.ok(!text.includes(secret), `"${secret}" leaked: ${text}`);
      const [line] = lines();
      assert.equal(line?.token, '[REDACTED]');
      assert.deepEqual((line?.device as { auth: unknown }).auth, { refreshToken: '[REDACTED]', accessTokenTtlSeconds: 900 });
      assert.equal(line?.databaseUrl, 'postgres://app:***@db:5432/roo?password=***');
      assert.equal(line?.msg, 'sign-in from postgres://app:***@db/x');
    });

    it('keeps numbers and booleans under secret-like names (TTLs, flags)', () => {
      const { logger, lines } = capture();
      logger.info('limits', { accessTokenTtlSeconds: 900, hasPassword: true });
      const [line] = lines();
      assert.equal(line?.accessTokenTtlSeconds, 900);
      assert.equal(line?.hasPassword, true);
    });

    it('redacts fields bound to a child logger too', () => {
      const { logger, raw } = capture();
      logger.child({ sessionToken: 'tok_abc123' }).info('bound');
      assert.ok(!raw().includes('tok_abc123'));
      assert.match(raw(), /"sessionToken":"\[REDACTED\]"/);
    });
  });

  describe('#child', () => {
    it('adds its bound fields to every line, a line\'s own fields winning', () => {
      const { logger, lines } = capture();
      const child = logger.child({ component: 'sync', deviceId: 'd1' }).child({ userId: 'u1' });
      child.info('pushed', { deviceId: 'd2', count: 3 });
      assert.deepEqual(lines()[0], { level: 'info', time: '2026-01-02T03:04:05.000Z', msg: 'pushed', component: 'sync', deviceId: 'd2', userId: 'u1', count: 3 });
    });
  });

  describe('level', () => {
    it('drops lines below the level', () => {
      const { logger, lines } = capture('warn');
      logger.debug('no');
      logger.info('no');
      logger.warn('yes');
      logger.error('yes');
      assert.deepEqual(lines().map((line) => line.level), ['warn', 'error']);
      assert.equal(logger.isLevelEnabled('info'), false);
      assert.equal(logger.isLevelEnabled('fatal'), true);
    });

    it('writes nothing at silent', () => {
      const { logger, lines } = capture('silent');
      logger.fatal('no');
      assert.deepEqual(lines(), []);
    });
  });
});

describe('parseLogLevel', () => {
  it('accepts any case and rejects unknown levels with CONFIG_INVALID naming LOG_LEVEL', () => {
    assert.equal(parseLogLevel('DEBUG'), 'debug');
    assert.throws(() => parseLogLevel('loud'), (error: SyncError) => error.code === 'CONFIG_INVALID' && error.details?.option === 'LOG_LEVEL');
  });
});
