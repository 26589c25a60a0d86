/**
 * blob.upload.chunked.<db>_mib_per_s: a 16 MiB blob sent as a resumable upload in 4 MiB chunks
 * (PUT with Content-Range, server/blobs/blob-uploads.ts) to a relay on PGlite and on
 * PostgreSQL (TEST_DATABASE_URL). Baseline: the same blob sent whole (one PUT), in the same run.
 */
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { migrate } from '../../server/db/migrator';
import type { Database } from '../../server/db/database';
import { openDatabase } from '../../server/db/open-database';
import { createTestDatabase, resetDatabase } from '../support/postgres';
import { openTestPglite } from '../support/pglite';
import { signIn, startTestRelay } from '../server/http/relay-fixture';
import { median, type Benchmark, type Figure } from './figure';

const MIB = 1024 * 1024;
const SIZE = 16 * MIB;
const CHUNK = 4 * MIB;
const RUNS = 3;

async function measure(db: Database): Promise<{ chunked: number; whole: number }> {
  await migrate(db);
  const relay = await startTestRelay(db, { maxBlobBytes: 64 * MIB });
  try {
    const chunked: number[] = [];
    const whole: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      await resetDatabase(db);
      const ann = await signIn(relay, 'ann@example.com');
      const bytes = randomBytes(SIZE);
      const hash = createHash('sha256').update(bytes).digest('hex');
      const url = `${relay.url}/v1/blobs/${hash}`;
      const auth = { authorization: `Bearer ${ann.accessToken}` };
      let started = performance.now();
      for (let start = 0; start < SIZE; start += CHUNK) {
        const end = Math.min(SIZE, start + CHUNK) - 1;
        const res = await fetch(url, { method: 'PUT', headers: { ...auth, 'content-range': `bytes ${start}-${end}/${SIZE}` }, body: bytes.subarray(start, end + 1) });
        await res.arrayBuffer();
        if (res.status !== (end === SIZE - 1 ? 201 : 202)) throw new Error(`chunk at ${start}: ${res.status}`);
      }
      chunked.push(performance.now() - started);
      await resetDatabase(db);
      const bob = await signIn(relay, 'bob@example.com');
      started = performance.now();
      const res = await fetch(url, { method: 'PUT', headers: { authorization: `Bearer ${bob.accessToken}` }, body: bytes });
      await res.arrayBuffer();
      if (res.status !== 201) throw new Error(`whole PUT: ${res.status}`);
      whole.push(performance.now() - started);
    }
    console.log(`  chunked: ${chunked.map(Math.round).join(', ')} ms; whole: ${whole.map(Math.round).join(', ')} ms`);
    return { chunked: median(chunked), whole: median(whole) };
  } finally {
    await relay.close();
  }
}

const mibPerSecond = (ms: number): number => Math.round((SIZE / MIB / (ms / 1000)) * 10) / 10;

export const benchmark: Benchmark = {
  name: 'blob-upload',
  async run(): Promise<Figure[]> {
    const figures: Figure[] = [];
    console.log(`${SIZE / MIB} MiB blob, ${CHUNK / MIB} MiB chunks, median of ${RUNS}`);
    console.log('PGlite:');
    const pglite = await openTestPglite();
    try {
      const { chunked, whole } = await measure(pglite);
      figures.push({ name: 'blob.upload.chunked.pglite_mib_per_s', value: mibPerSecond(chunked), unit: 'MiB/s', baseline: mibPerSecond(whole), target: 'none' });
    } finally {
      await pglite.close();
    }
    console.log('PostgreSQL:');
    const testDb = await createTestDatabase();
    const pg = await openDatabase({ databaseUrl: testDb.url });
    try {
      const { chunked, whole } = await measure(pg);
      figures.push({ name: 'blob.upload.chunked.postgres_mib_per_s', value: mibPerSecond(chunked), unit: 'MiB/s', baseline: mibPerSecond(whole), target: 'none' });
    } finally {
      await pg.close();
      await testDb.drop();
    }
    for (const f of figures) console.log(`  ${f.name}: ${f.value} MiB/s (whole PUT ${f.baseline} MiB/s)`);
    return figures;
  },
};
