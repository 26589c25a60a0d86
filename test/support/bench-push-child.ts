/**
 * Client side of the relay throughput benchmark, in its own process so the clients' encoding
 * does not compete with the relay for the same event loop. argv: relay ws URL, JSON file of
 * `{ pushers, receivers }` devices, changes per push, pushes per pusher, pushes in flight,
 * codecs (comma list). Warms up with two pushes each, encodes every push frame (as remote
 * devices would have, off this machine), then sends them and prints
 * `{"changes":N,"seconds":S,"live":L,"cpuSeconds":C}` for the measured part (C: this process's CPU).
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { CodecName } from '../../core/protocol/messages';
import { BenchWsClient, type PreparedRequest } from './bench-ws-client';
import { streamPut } from './sync-client';

type Device = { deviceId: string; token: string };

/** Encodes `pushes` pushes of `batch` changes each, in sending order (before the measured window). */
function preparePushes(client: BenchWsClient, taskId: string, firstSeq: number, pushes: number, batch: number): PreparedRequest[] {
  return Array.from({ length: pushes }, (_, p) => {
    const first = firstSeq + p * batch;
    const changes = Array.from({ length: batch }, (_, i) => streamPut(first + i, taskId, first + i, `message ${first + i} of a long conversation`));
    return client.prepare({ type: 'push', changes });
  });
}

async function pushAll(client: BenchWsClient, requests: PreparedRequest[], inFlightMax: number): Promise<number> {
  let done = 0;
  const inFlight = new Set<Promise<void>>();
  for (const prepared of requests) {
    const request: Promise<void> = client.sendPrepared(prepared).then((reply) => {
      if (reply.type !== 'ack') throw new Error(`push not acknowledged: ${JSON.stringify(reply).slice(0, 200)}`);
      done += reply.accepted.length;
    });
    inFlight.add(request);
    void request.finally(() => inFlight.delete(request)).catch(() => undefined);
    if (inFlight.size >= inFlightMax) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return done;
}

async function main(): Promise<void> {
  const [url, file, batchArg, pushesArg, inFlightArg, codecsArg] = process.argv.slice(2);
  const { pushers, receivers } = JSON.parse(readFileSync(file!, 'utf8')) as { pushers: Device[]; receivers: Device[] };
  const batch = Number(batchArg);
  const pushes = Number(pushesArg);
  const inFlight = Number(inFlightArg);
  const codecs = codecsArg!.split(',') as CodecName[];
  let live = 0;
  const clients = await Promise.all(pushers.map((d) => BenchWsClient.connect(url!, d, codecs)));
  const listeners = await Promise.all(receivers.map((d) => BenchWsClient.connect(url!, d, codecs)));
  for (const r of listeners) r.onPush = (m) => { if (m.type === 'changes') live++; };
  await Promise.all(clients.map((c, i) => pushAll(c, preparePushes(c, `warm-${i}`, 1, 2, batch), inFlight)));
  // The devices stand for remote machines: their frames are encoded before the measured window.
  const prepared = clients.map((c, i) => preparePushes(c, `task-${i}`, 2 * batch + 1, pushes, batch));
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const counts = await Promise.all(clients.map((c, i) => pushAll(c, prepared[i]!, inFlight)));
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  process.stdout.write(`${JSON.stringify({ changes: counts.reduce((a, b) => a + b, 0), seconds, live, cpuSeconds })}\n`);
  await Promise.all([...clients, ...listeners].map((c) => c.close()));
}

main().catch((err: unknown) => {
  process.stderr.write(`push child failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
