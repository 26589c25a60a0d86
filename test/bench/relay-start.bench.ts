/**
 * relay.start.pglite_ms: from calling startRelayServer on the embedded default (PGlite, an
 * existing data directory, in-process cache and pub/sub) to GET /readyz answering `ready`.
 * Baseline: opening the same PGlite data directory alone, in the same run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadRelayConfig } from '../../server/config/load-config';
import { PgliteDatabase } from '../../server/db/pglite-database';
import { startRelayServer } from '../../server/relay-server';
import { median, type Benchmark, type Figure } from './figure';

const RUNS = 3;

export const benchmark: Benchmark = {
  name: 'relay-start',
  async run(): Promise<Figure[]> {
    const dir = mkdtempSync(join(tmpdir(), 'relay-start-bench-'));
    try {
      const config = loadRelayConfig({ env: { DATA_DIR: join(dir, 'data'), PORT: '0', LOG_LEVEL: 'error' } });
      const created = performance.now();
      await (await startRelayServer(config, {}, { compactionIntervalMs: 0 })).close();
      console.log(`new data directory created and migrated in ${Math.round(performance.now() - created)} ms (not counted)`);
      const starts: number[] = [];
      const opens: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const started = performance.now();
        const relay = await startRelayServer(config, {}, { compactionIntervalMs: 0 });
        const res = await fetch(`${relay.url}/readyz`);
        const status = ((await res.json()) as { status: string }).status;
        starts.push(performance.now() - started);
        await relay.close();
        if (status !== 'ready') throw new Error(`/readyz said ${status}`);
        const opened = performance.now();
        const db = await PgliteDatabase.open({ dataDir: join(dir, 'data') });
        opens.push(performance.now() - opened);
        await db.close();
      }
      const value = median(starts);
      const baseline = median(opens);
      console.log(`start to ready: ${starts.map((ms) => Math.round(ms)).join(', ')} ms (median ${Math.round(value)}); PGlite open alone: ${opens.map((ms) => Math.round(ms)).join(', ')} ms`);
      return [{ name: 'relay.start.pglite_ms', value: Math.round(value), unit: 'ms', baseline: Math.round(baseline), target: 'none' }];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
