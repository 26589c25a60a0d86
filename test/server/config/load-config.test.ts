import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { isSyncError, type SyncError } from '../../../core/errors';
import { describeConfig, loadRelayConfig, redactUrl } from '../../../server/config/load-config';
import { RELAY_OPTIONS, camelCase } from '../../../server/config/options';
import { RELAY_DEFAULTS } from '../../../server/config/relay-config';

function configError(run: () => unknown): SyncError {
  try {
    run();
  } catch (error) {
    assert.ok(isSyncError(error, 'CONFIG_INVALID'), `expected CONFIG_INVALID, got ${String(error)}`);
    return error;
  }
  assert.fail('expected CONFIG_INVALID');
}

describe('loadRelayConfig', () => {
  describe('defaults', () => {
    it('runs embedded on 127.0.0.1 with PGlite in ./.roo-sync/data and no Redis when nothing is set', () => {
      const config = loadRelayConfig({ env: {} });
      assert.equal(config.http.host, '127.0.0.1');
      assert.equal(config.http.port, RELAY_DEFAULTS.http.port);
      assert.equal(config.database.url, undefined);
      assert.equal(config.redis.url, undefined);
      assert.equal(config.database.dataDir, resolve('./.roo-sync/data'));
      assert.equal(config.log.level, 'info');
      assert.deepEqual(config.ws, RELAY_DEFAULTS.ws);
    });

    it('returns a frozen object', () => {
      const config = loadRelayConfig({ env: {} });
      assert.ok(Object.isFrozen(config) && Object.isFrozen(config.http));
    });
  });

  describe('precedence', () => {
    it('takes the environment over defaults and flags over the environment', () => {
      const env = { PORT: '9000', HOST: '0.0.0.0', LOG_LEVEL: 'debug', WS_MAX_FRAME_BYTES: '2048' };
      const config = loadRelayConfig({ env, flags: { port: '9100', 'ws-max-frame-bytes': 4096 } });
      assert.equal(config.http.port, 9100);
      assert.equal(config.ws.maxFrameBytes, 4096);
      assert.equal(config.http.host, '0.0.0.0');
      assert.equal(config.log.level, 'debug');
    });

    it('accepts commander camelCase flag keys and ignores undefined flags', () => {
      const config = loadRelayConfig({
        env: { DATABASE_URL: 'postgres://env@db/x' },
        flags: { databaseUrl: 'postgres://flag@db/x', redisUrl: undefined, dbPoolMax: '3', unrelated: true },
      });
      assert.equal(config.database.url, 'postgres://flag@db/x');
      assert.equal(config.redis.url, undefined);
      assert.equal(config.database.poolMax, 3);
    });

    it('treats an empty environment variable as unset', () => {
      const config = loadRelayConfig({ env: { REDIS_URL: '', PORT: '  ' } });
      assert.equal(config.redis.url, undefined);
      assert.equal(config.http.port, RELAY_DEFAULTS.http.port);
    });

    it('reads every option from its environment variable', () => {
      const config = loadRelayConfig({
        env: {
          DATABASE_URL: 'postgresql://app:pw@db:5432/roo', REDIS_URL: 'rediss://:pw@cache:6380/1', DATA_DIR: '/var/lib/roo',
          DB_STATEMENT_TIMEOUT_MS: '0', ACCESS_TOKEN_TTL_SECONDS: '600', REFRESH_TOKEN_TTL_SECONDS: '86400',
          COMMAND_TTL_SECONDS: '120', WS_HELLO_TIMEOUT_MS: '5000', REDIS_KEY_PREFIX: 'prod:', LOG_LEVEL: 'WARN',
        },
      });
      assert.equal(config.database.url, 'postgresql://app:pw@db:5432/roo');
      assert.equal(config.redis.url, 'rediss://:pw@cache:6380/1');
      assert.equal(config.database.dataDir, '/var/lib/roo');
      assert.equal(config.database.statementTimeoutMs, 0);
      assert.equal(config.auth.accessTokenTtlSeconds, 600);
      assert.equal(config.auth.refreshTokenTtlSeconds, 86_400);
      assert.equal(config.sync.commandTtlSeconds, 120);
      assert.equal(config.ws.helloTimeoutMs, 5_000);
      assert.equal(config.redis.keyPrefix, 'prod:');
      assert.equal(config.log.level, 'warn');
    });
  });

  describe('switches', () => {
    it('reads 1, true, yes, on and 0, false, no, off in any case; NO_MIGRATE turns migration off', () => {
      for (const yes of ['1', 'true', 'YES', ' On ']) {
        const config = loadRelayConfig({ env: { NO_MIGRATE: yes, ALLOW_SIGNUP: yes, TRUST_PROXY: yes } });
        assert.deepEqual([config.database.migrate, config.auth.allowSignup, config.http.trustProxy], [false, true, true], yes);
      }
      for (const no of ['0', 'false', 'No', 'OFF']) {
        const config = loadRelayConfig({ env: { NO_MIGRATE: no, ALLOW_SIGNUP: no, TRUST_PROXY: no } });
        assert.deepEqual([config.database.migrate, config.auth.allowSignup, config.http.trustProxy], [true, false, false], no);
      }
    });

    it('defaults to migrate, no sign-up, no proxy, compaction hourly; empty variables count as unset', () => {
      for (const env of [{}, { NO_MIGRATE: '', ALLOW_SIGNUP: '', TRUST_PROXY: '', COMPACTION_INTERVAL_SECONDS: '' }]) {
        const config = loadRelayConfig({ env });
        assert.equal(config.database.migrate, true);
        assert.equal(config.auth.allowSignup, false);
        assert.equal(config.http.trustProxy, false);
        assert.equal(config.sync.compactionIntervalSeconds, 3_600);
      }
    });

    it('takes a given switch flag over the environment', () => {
      const config = loadRelayConfig({
        env: { NO_MIGRATE: '0', ALLOW_SIGNUP: 'off', TRUST_PROXY: 'no', COMPACTION_INTERVAL_SECONDS: '0' },
        flags: { 'no-migrate': true, allowSignup: true, trustProxy: true, compactionIntervalSeconds: '120' },
      });
      assert.equal(config.database.migrate, false);
      assert.equal(config.auth.allowSignup, true);
      assert.equal(config.http.trustProxy, true);
      assert.equal(config.sync.compactionIntervalSeconds, 120);
      assert.equal(loadRelayConfig({ env: { COMPACTION_INTERVAL_SECONDS: '0' } }).sync.compactionIntervalSeconds, 0);
    });
  });

  describe('validation', () => {
    it('names the environment variable and the reason for a bad number', () => {
      const error = configError(() => loadRelayConfig({ env: { PORT: '70000' } }));
      assert.equal(error.details?.option, 'PORT');
      assert.equal(error.details?.source, 'env');
      assert.match(String(error.details?.reason), /0 to 65535/);
    });

    it('names the flag when the bad value came from a flag', () => {
      const error = configError(() => loadRelayConfig({ flags: { dbPoolMax: 'many' } }));
      assert.equal(error.details?.option, '--db-pool-max');
      assert.equal(error.details?.source, 'flag');
    });

    it('reports every bad option at once', () => {
      const error = configError(() => loadRelayConfig({ env: { PORT: '-1', LOG_LEVEL: 'loud', WS_RATE_LIMIT_BURST: '1.5' } }));
      const options = (error.details?.problems as Array<{ option: string }>).map((problem) => problem.option);
      assert.deepEqual(options, ['PORT', 'WS_RATE_LIMIT_BURST', 'LOG_LEVEL']);
    });

    it('refuses URLs of the wrong kind without echoing their secrets', () => {
      const error = configError(() => loadRelayConfig({ env: { DATABASE_URL: 'mysql://root:hunter2@db/x', REDIS_URL: 'not a url hunter3' } }));
      const text = `${error.message} ${JSON.stringify(error.details)}`;
      assert.doesNotMatch(text, /hunter2|hunter3/);
      const options = (error.details?.problems as Array<{ option: string }>).map((problem) => problem.option);
      assert.deepEqual(options, ['DATABASE_URL', 'REDIS_URL']);
    });

    it('refuses a bad COMPACTION_INTERVAL_SECONDS from the environment or a flag (regression: it bypassed validation)', () => {
      for (const bad of ['abc', '-1', '1.5', '2147484']) {
        const error = configError(() => loadRelayConfig({ env: { COMPACTION_INTERVAL_SECONDS: bad } }));
        assert.equal(error.details?.option, 'COMPACTION_INTERVAL_SECONDS', bad);
        assert.equal(error.details?.source, 'env');
      }
      const flag = configError(() => loadRelayConfig({ env: {}, flags: { compactionIntervalSeconds: 'abc' } }));
      assert.equal(flag.details?.option, '--compaction-interval-seconds');
      assert.equal(flag.details?.source, 'flag');
    });

    it('refuses switch values that are not a yes or a no (regression: NO_MIGRATE=maybe was ignored)', () => {
      const error = configError(() => loadRelayConfig({ env: { NO_MIGRATE: 'maybe', ALLOW_SIGNUP: 'sure', TRUST_PROXY: '2' } }));
      const options = (error.details?.problems as Array<{ option: string }>).map((problem) => problem.option);
      assert.deepEqual(options, ['TRUST_PROXY', 'NO_MIGRATE', 'ALLOW_SIGNUP']);
      assert.match(String(error.details?.reason), /1, true, yes or on/);
      assert.match(error.message, /NO_MIGRATE/);
    });

    it('refuses combinations that cannot work', () => {
      const error = configError(() => loadRelayConfig({ env: { ACCESS_TOKEN_TTL_SECONDS: '3600', REFRESH_TOKEN_TTL_SECONDS: '600' } }));
      assert.equal(error.details?.option, 'REFRESH_TOKEN_TTL_SECONDS');
      assert.equal(error.details?.source, 'combination');
      const frames = configError(() => loadRelayConfig({ env: { WS_MAX_FRAME_BYTES: '4096', WS_MAX_INFLATED_BYTES: '2048' } }));
      assert.equal(frames.details?.option, 'WS_MAX_INFLATED_BYTES');
    });
  });
});

describe('RELAY_OPTIONS', () => {
  it('maps every RelayConfig field exactly once, with unique env names and flags', () => {
    const fields = Object.entries(RELAY_DEFAULTS).flatMap(([group, values]) => Object.keys(values).map((field) => `${group}.${field}`));
    const mapped = RELAY_OPTIONS.map((option) => `${option.group}.${option.field}`);
    assert.deepEqual([...mapped].sort(), [...fields].sort());
    assert.equal(new Set(RELAY_OPTIONS.map((option) => option.env)).size, RELAY_OPTIONS.length);
    assert.equal(new Set(RELAY_OPTIONS.map((option) => camelCase(option.flag))).size, RELAY_OPTIONS.length);
  });
});

describe('describeConfig', () => {
  it('redacts the database and Redis passwords and says which mode runs', () => {
    const config = loadRelayConfig({
      env: { DATABASE_URL: 'postgres://app:hunter2@db:5432/roo?sslpassword=hunter4', REDIS_URL: 'redis://default:hunter3@cache:6379' },
    });
    const described = describeConfig(config);
    const text = JSON.stringify(described);
    assert.doesNotMatch(text, /hunter2|hunter3|hunter4/);
    assert.match(text, /postgres:\/\/app:\*\*\*@db:5432\/roo/);
    assert.match(text, /redis:\/\/default:\*\*\*@cache:6379/);
    assert.deepEqual(described.mode, { database: 'postgres', cacheAndPubSub: 'redis' });
    assert.equal(config.database.url, 'postgres://app:hunter2@db:5432/roo?sslpassword=hunter4');
  });

  it('says embedded mode when no URLs are set', () => {
    assert.deepEqual(describeConfig(loadRelayConfig({ env: {} })).mode, { database: 'pglite', cacheAndPubSub: 'in-process' });
  });
});

describe('redactUrl', () => {
  it('hides a password-only Redis URL and anything it cannot parse', () => {
    assert.equal(redactUrl('redis://:s3cret@h:6379'), 'redis://:***@h:6379');
    assert.equal(redactUrl('::s3cret::'), '***');
  });
});
