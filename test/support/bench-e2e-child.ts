/**
 * Device side of the relay e2e benchmark (test/bench/relay-e2e.bench.ts), in its own process:
 * a relay serves remote devices, so the 1,000 connected devices, the load mix and the probe
 * pair do not share the relay's event loop.
 *
 * argv: relay ws URL, relay http URL, JSON file of `BenchUser[]` (users[0] is the probe pair),
 * number of probes (one every PROBE_EVERY_MS). Connects every device, prints `READY <devices>`, waits for a line on
 * stdin, then runs its part of the load mix and the probes, and prints
 * `{"e2e":[ms...],"pings":[ms...],"loadOps":N,"seconds":S}`.
 *
 * Its part of the load mix, on the users other than the probe pair: two loops pushing one
 * change every 10 ms (every tenth push, counted over all devices, stands for one that changes
 * the task list: it prints `WROTE <userId>` and the benchmark invalidates that user's cached
 * task list), a reconnect every 50 ms and GET /v1/devices every 20 ms.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { BenchWsClient } from './bench-ws-client';
import type { BenchUser } from './relay-bench';
import { createRng } from './rng';
import { streamPut } from './sync-client';

type Device = BenchUser['devices'][number];

/** One probe (push A -> B, then a ping) starts every this many ms. */
const PROBE_EVERY_MS = 20;

async function main(): Promise<void> {
  const [wsUrl, httpUrl, file, probesArg] = process.argv.slice(2);
  const users = JSON.parse(readFileSync(file!, 'utf8')) as BenchUser[];
  const probes = Number(probesArg);
  const clients = new Map<string, BenchWsClient>();
  const all = users.flatMap((u) => u.devices);
  for (let i = 0; i < all.length; i += 50) {
    await Promise.all(all.slice(i, i + 50).map(async (d) => clients.set(d.deviceId, await BenchWsClient.connect(wsUrl!, d))));
  }
  const get = async (path: string, device: Device) => {
    const res = await fetch(`${httpUrl}${path}`, { headers: { authorization: `Bearer ${device.token}` } });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`GET ${path}: ${res.status}`);
  };
  process.stdout.write(`READY ${clients.size}\n`);
  const go = createInterface({ input: process.stdin });
  await new Promise<void>((resolve) => go.once('line', () => resolve()));
  go.close();
  process.stdin.destroy();

  const rng = createRng(7);
  const loadUsers = users.slice(1);
  const pick = () => loadUsers[rng.int(0, loadUsers.length - 1)]!;
  const clientSeqs = new Map<string, number>();
  let stop = false;
  let loadOps = 0;
  let pushes = 0;
  const loop = async (everyMs: number, op: () => Promise<unknown>) => {
    while (!stop) {
      const started = performance.now();
      await op().catch(() => undefined);
      loadOps++;
      const left = everyMs - (performance.now() - started);
      if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
    }
  };
  const pushSome = async () => {
    const user = pick();
    const device = user.devices[0]!;
    const seq = (clientSeqs.get(device.deviceId) ?? 0) + 1;
    clientSeqs.set(device.deviceId, seq);
    await clients.get(device.deviceId)!.request({ type: 'push', changes: [streamPut(seq, 'load', seq, 'load change')] });
    if (++pushes % 10 === 0) process.stdout.write(`WROTE ${user.userId}\n`);
  };
  const reconnect = async () => {
    const device = pick().devices[1]!;
    await clients.get(device.deviceId)!.close();
    clients.set(device.deviceId, await BenchWsClient.connect(wsUrl!, device));
  };
  const loops = [
    ...Array.from({ length: 2 }, () => loop(10, pushSome)),
    loop(50, reconnect),
    loop(20, () => get('/v1/devices', pick().devices[0]!)),
  ];

  const [probeA, probeB] = users[0]!.devices as [Device, Device];
  const a = clients.get(probeA.deviceId)!;
  const b = clients.get(probeB.deviceId)!;
  const e2e: number[] = [];
  const pings: number[] = [];
  const started = performance.now();
  for (let i = 1; i <= probes; i++) {
    // Probes are paced, not back to back: the window (and so the load mix around it) lasts
    // probes x PROBE_EVERY_MS however fast the relay answers; a fast relay otherwise measured
    // a window under a second, too short for the mix to reach its steady state.
    const slot = started + (i - 1) * PROBE_EVERY_MS;
    const wait = slot - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const received = new Promise<number>((resolve) => {
      b.onPush = (m) => {
        if (m.type === 'changes' && m.changes.some((c) => c.clientSeq === i)) resolve(performance.now());
      };
    });
    const sent = performance.now();
    void a.request({ type: 'push', changes: [streamPut(i, 'probe', i, `probe ${i}`)] });
    e2e.push((await received) - sent);
    const pingSent = performance.now();
    await a.request({ type: 'ping' });
    pings.push(performance.now() - pingSent);
  }
  const seconds = (performance.now() - started) / 1000;
  stop = true;
  await Promise.all(loops);
  process.stdout.write(`${JSON.stringify({ e2e, pings, loadOps, seconds })}\n`);
  await Promise.all([...clients.values()].map((c) => c.close()));
}

main().catch((err: unknown) => {
  process.stderr.write(`e2e child failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
