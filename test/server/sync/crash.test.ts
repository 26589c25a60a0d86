/**
 * SIGKILL of a real relay process (`roo-sync server`, the CLI) during a stream of pushes, on
 * PostgreSQL and on PGlite:
 * after a restart and the client's replay of everything it sent, every acknowledged change is
 * in the log exactly once, under the seq it was acknowledged with, and the log has no gap.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RawWsClient } from '../../conformance/raw-ws-client';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';
import { createRng } from '../../support/rng';
import { connectDevice, streamPut } from '../../support/sync-client';
import { startRelayProcess, type RelayProcess } from '../../support/relay-process';
import { signUpDevices } from '../../support/sync-relay-process';

const BATCH = 5;
const IN_FLIGHT = 4;
const KILLS = 2;
/** Sign-up allowed (the test makes its account over HTTP), compaction off (the log must stay whole); info logs carry the start line. */
const SERVER_ARGS = ['--allow-signup', '--compaction-interval-seconds', '0'];

interface CrashRelay {
  readonly process: RelayProcess;
  readonly httpUrl: string;
  readonly wsUrl: string;
}

interface CrashEnvironment {
  dataDir: string;
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

async function startRelay(environment: CrashEnvironment): Promise<CrashRelay> {
  const relay = await startRelayProcess({ dataDir: environment.dataDir, env: environment.env, args: SERVER_ARGS, startTimeoutMs: 90_000 });
  const httpUrl = relay.url.replace(/\/+$/, '');
  return { process: relay, httpUrl, wsUrl: `${httpUrl.replace(/^http/, 'ws')}/v1/sync` };
}

interface Device {
  deviceId: string;
  token: string;
}

/** Pushes batches (several in flight) until `killAfterAcks` pushes were acknowledged, then SIGKILLs the relay. */
async function pushUntilKilled(
  relay: CrashRelay,
  device: Device,
  firstClientSeq: number,
  killAfterAcks: number,
  acked: Map<number, number>,
): Promise<number> {
  const { client } = await connectDevice(relay.wsUrl, device);
  let next = firstClientSeq;
  let acks = 0;
  let killing: Promise<void> | undefined;
  const inFlight = new Set<Promise<void>>();
  while (!killing) {
    const changes = Array.from({ length: BATCH }, (_, i) => streamPut(next + i, 'crash-task', next + i, `change ${next + i}`));
    next += BATCH;
    const request: Promise<void> = client
      .request({ type: 'push', changes })
      .then((reply) => {
        assert.equal(reply.type, 'ack', JSON.stringify(reply));
        if (reply.type === 'ack') for (const a of reply.accepted) acked.set(a.clientSeq, a.seq);
        if (++acks >= killAfterAcks) killing ??= relay.process.kill();
      })
      .catch((err: unknown) => {
        // Only the kill may end a push without an answer.
        if (!killing) throw err;
      })
      .finally(() => inFlight.delete(request));
    inFlight.add(request);
    if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
  }
  await killing;
  await Promise.allSettled(inFlight);
  await client.close();
  return next - 1;
}

/** Replays clientSeqs 1..last (the outbox resends what it does not know to be acknowledged) and checks the log. */
async function replayAndCheck(client: RawWsClient, last: number, acked: Map<number, number>): Promise<void> {
  for (let from = 1; from <= last; from += 50) {
    const changes = [];
    for (let s = from; s < Math.min(from + 50, last + 1); s++) changes.push(streamPut(s, 'crash-task', s, `change ${s}`));
    const reply = await client.request({ type: 'push', changes });
    assert.equal(reply.type, 'ack', JSON.stringify(reply));
    if (reply.type !== 'ack') return;
    for (const a of reply.accepted) {
      const before = acked.get(a.clientSeq);
      if (before !== undefined) assert.equal(a.seq, before, `clientSeq ${a.clientSeq} keeps the seq it was acknowledged with`);
      acked.set(a.clientSeq, a.seq);
    }
  }
  const log: Array<{ seq: number; clientSeq: number }> = [];
  let cursor = 0;
  for (;;) {
    const page = await client.request({ type: 'pull', cursor, limit: 1000 });
    assert.equal(page.type, 'changes');
    if (page.type !== 'changes') return;
    log.push(...page.changes);
    cursor = page.cursor;
    if (!page.hasMore) break;
  }
  assert.deepEqual(log.map((c) => c.seq), Array.from({ length: last }, (_, i) => i + 1), 'gapless log');
  assert.deepEqual([...log.map((c) => c.clientSeq)].sort((a, b) => a - b), Array.from({ length: last }, (_, i) => i + 1), 'each change once');
  for (const change of log) assert.equal(acked.get(change.clientSeq), change.seq);
}

function crashSuite(label: string, environment: () => Promise<CrashEnvironment>): void {
  describe(`relay SIGKILL during pushes (${label})`, function () {
    this.timeout(300_000);
    let setup: CrashEnvironment | undefined;
    let relay: CrashRelay | undefined;

    before(async () => {
      setup = await environment();
    });
    after(async () => {
      await relay?.process.kill();
      await setup?.cleanup();
    });

    it(`keeps every acknowledged change exactly once across ${KILLS} kills and replays`, async () => {
      const seed = Number(process.env.RELAY_CRASH_SEED ?? Date.now() % 1_000_000);
      console.log(`      relay crash seed ${seed} (replay: RELAY_CRASH_SEED=${seed})`);
      const rng = createRng(seed);
      relay = await startRelay(setup!);
      const { devices } = await signUpDevices(relay.httpUrl, 1);
      const device = devices[0]!;
      const acked = new Map<number, number>();
      let last = 0;
      for (let kill = 0; kill < KILLS; kill++) {
        last = await pushUntilKilled(relay, device, last + 1, rng.int(3, 25), acked);
        assert.ok(acked.size > 0);
        relay = await startRelay(setup!);
        const { client } = await connectDevice(relay.wsUrl, device);
        await replayAndCheck(client, last, acked);
        await client.close();
      }
      await relay.process.kill();
    });
  });
}

crashSuite('PostgreSQL', async () => {
  const db: TestDatabase = await createTestDatabase();
  // The data directory is unused with DATABASE_URL; the CLI is given one all the same.
  const dir = mkdtempSync(join(tmpdir(), 'roo-relay-crash-'));
  return {
    dataDir: join(dir, 'data'),
    env: { DATABASE_URL: db.url },
    cleanup: async () => {
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

crashSuite('PGlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'roo-relay-crash-'));
  return {
    dataDir: join(dir, 'data'),
    env: {},
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
