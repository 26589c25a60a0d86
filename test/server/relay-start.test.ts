/**
 * What a failed start leaves behind, and what the port answers while the relay starts.
 * Regression: with its port taken, the relay created and migrated a new embedded database
 * and only then failed SERVER_LISTEN_FAILED.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSyncError } from '../../core/errors';
import { loadRelayConfig } from '../../server/config/load-config';
import { createLogger } from '../../server/observability/logger';
import { startRelayServer } from '../../server/relay-server';

describe('startRelayServer', function () {
  this.timeout(60_000);
  let dir: string;
  let blocker: Server;
  let port: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'roo-start-'));
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    port = (blocker.address() as AddressInfo).port;
  });
  after(async () => {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails SERVER_LISTEN_FAILED on a taken port before it creates a data directory (regression)', async () => {
    const dataDir = join(dir, 'never-created', 'data');
    const config = loadRelayConfig({ env: { PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'silent' } });
    await assert.rejects(startRelayServer(config), (err: unknown) => isSyncError(err, 'SERVER_LISTEN_FAILED'));
    assert.equal(existsSync(join(dir, 'never-created')), false, 'no data directory (nor its parent) is left');
  });

  it('answers 503 RELAY_STARTING while it opens its database, then serves', async () => {
    const config = loadRelayConfig({ env: { PORT: '0', HOST: '127.0.0.1', DATA_DIR: join(dir, 'starting'), LOG_LEVEL: 'debug' } });
    let bound!: (port: number) => void;
    const portBound = new Promise<number>((resolve) => { bound = resolve; });
    const logger = createLogger({
      level: 'debug',
      format: 'json',
      sink: {
        write(line: string) {
          const entry = JSON.parse(line) as { msg: string; port?: number };
          if (entry.msg === 'port bound; opening the database') bound(entry.port!);
        },
      },
    });
    const starting = startRelayServer(config, { logger });
    try {
      // A new PGlite data directory takes seconds to create: this request arrives meanwhile.
      const early = await fetch(`http://127.0.0.1:${await portBound}/healthz`);
      assert.equal(early.status, 503);
      assert.equal(early.headers.get('retry-after'), '1');
      assert.equal(((await early.json()) as { error: { code: string } }).error.code, 'RELAY_STARTING');
    } finally {
      const relay = await starting;
      assert.equal((await fetch(`${relay.url}/healthz`)).status, 200);
      await relay.close();
    }
  });
});
