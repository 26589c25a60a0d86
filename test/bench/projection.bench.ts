/**
 * relay.projection.rows_per_s: change-log rows per second the read-model projector
 * (server/projections) applies on PostgreSQL, catching up USERS users whose logs were written
 * beforehand (mostly ui/api stream puts of chat-sized entries, some truncates, task metadata and
 * workspace files), in batches of the default size, one worker. No target: a figure to watch.
 */
import { performance } from 'node:perf_hooks';
import { asDeviceId, asTaskId, asUserId, asWorkspaceId } from '../../core/ids';
import type { ClientChange } from '../../core/model/changes';
import { appendChanges } from '../../server/db/change-log';
import { migrate } from '../../server/db/migrator';
import { openDatabase } from '../../server/db/open-database';
import { Projector } from '../../server/projections/projector';
import { createTestDatabase } from '../support/postgres';
import type { Benchmark, Figure } from './figure';

const USERS = 8;
const CHANGES_PER_USER = 4000;
const PUSH = 250;

/** One user's log: tasks of ~100 ui + api entries, a truncate now and then, metadata and files. */
function changesFor(count: number): ClientChange[] {
  const out: ClientChange[] = [];
  const text = 'Let me look at the file and run the tests again. '.repeat(8);
  for (let i = 0; out.length < count; i++) {
    const clientSeq = out.length + 1;
    const task = asTaskId(`task-${Math.floor(i / 200)}`);
    const n = i % 200;
    if (n === 0) {
      out.push({ clientSeq, baseSeq: null, body: { type: 'task.meta', source: 'roo-code', taskId: task, fields: { ts: 1_700_000_000_000 + i, task: `task ${i}`, tokensIn: i }, clocks: { ts: `${String(i).padStart(15, '0')}-000000-d`, task: `${String(i).padStart(15, '0')}-000000-d`, tokensIn: `${String(i).padStart(15, '0')}-000000-d` } } });
    } else if (n % 50 === 0) {
      out.push({ clientSeq, baseSeq: null, body: { type: 'stream.truncate', source: 'roo-code', taskId: task, stream: 'ui', afterKey: `${1_700_000_000_000 + i - 3}:0` } });
    } else if (n % 25 === 0) {
      out.push({ clientSeq, baseSeq: null, body: { type: 'file.put', workspaceId: asWorkspaceId('ws'), path: `src/file-${i % 40}.ts`, hash: 'f'.repeat(64), size: 1200, mode: 0o100644, mtime: 1_700_000_000_000 + i, binary: false } });
    } else {
      const ui = n % 2 === 1;
      const ts = 1_700_000_000_000 + i;
      out.push({
        clientSeq, baseSeq: null,
        body: {
          type: 'stream.put', source: 'roo-code', taskId: task, stream: ui ? 'ui' : 'api', key: ui ? `${ts}:0` : String(n),
          hash: 'a'.repeat(64), entry: ui ? { ts, type: 'say', say: 'text', text } : { role: 'assistant', content: [{ type: 'text', text }] },
        },
      });
    }
  }
  return out;
}

export const benchmark: Benchmark = {
  name: 'projection',
  async run(): Promise<Figure[]> {
    const testDb = await createTestDatabase();
    const db = await openDatabase({ databaseUrl: testDb.url, pool: { max: 8, statementTimeoutMs: 600_000 } });
    try {
      await migrate(db);
      const changes = changesFor(CHANGES_PER_USER);
      // Baseline: how fast the same rows went into the change log (appendChanges), rows/s.
      const seeding = performance.now();
      for (let u = 0; u < USERS; u++) {
        const { rows } = await db.query<{ id: string }>(`INSERT INTO users (email, password_hash) VALUES ($1, 'scrypt$bench') RETURNING id`, [`p${u}@bench.test`]);
        const userId = asUserId(rows[0]!.id);
        for (let i = 0; i < changes.length; i += PUSH) await appendChanges(db, userId, asDeviceId('00000000-0000-4000-8000-000000000001'), changes.slice(i, i + PUSH));
      }
      const seedRate = (USERS * changes.length) / ((performance.now() - seeding) / 1000);
      await db.query('ANALYZE');
      const projector = new Projector({ db, sweepIntervalMs: 0 });
      let rows = 0;
      let batches = 0;
      projector.onBatch((e) => {
        if (e.outcome.status === 'projected') rows += e.outcome.rows;
        batches++;
      });
      const started = performance.now();
      projector.start();
      await projector.idle();
      const seconds = (performance.now() - started) / 1000;
      await projector.close();
      const rate = rows / seconds;
      console.log(`projected ${rows} rows of ${USERS} users in ${batches} batches, ${seconds.toFixed(2)} s: ${rate.toFixed(0)} rows/s (appending them to the log: ${seedRate.toFixed(0)} rows/s)`);
      return [{ name: 'relay.projection.rows_per_s', value: Math.round(rate), unit: 'rows/s', baseline: Math.round(seedRate), target: 'none' }];
    } finally {
      await db.close();
      await testDb.drop();
    }
  },
};
