/**
 * Device side of the load bench (test/bench/load.bench.ts), in its own process: connects every
 * device of every user (device i of a user to relay i % relays, so a user's devices sit on both
 * relays and fan-out crosses Redis; devices 0 and 1 are BenchWsClients, the others, which nobody
 * times, BenchSinkClients that take their frames off the socket unparsed), prints `READY <n>`, waits for a line on
 * stdin, then for `seconds` pushes `perMinute` messages a minute (one user's device 0 at a time,
 * round robin over users) plus a burst of `burst` messages at the start of every minute after
 * the first. Latency: push sent by device 0 to the live change arriving at device 1 of the same
 * user (on the other relay); also push to ack (`ackLatencies`) and this process's event-loop delay
 * (`loopDelayMs`: a busy generator delays what it measures). The burst's messages are also
 * reported on their own (`burstLatencies`, `burstAckLatencies`, and per burst the time to send it
 * and until its last ack and delivery); around each burst the child prints `BURST <n>` and waits
 * for a line on stdin before sending it, and `BURST_DONE <n>` once every push of it is acked
 * and delivered, so the parent can read the relays' commit counters and every party's CPU over
 * the burst. Prints
 * `{"latencies":[...],"ackLatencies":[...],"burstLatencies":[...],"burstAckLatencies":[...],"bursts":[...],"loopDelayMs":{...},"cpuPct":N,"throughput":[[s,n],...],"sent":N,"received":N,"errors":N}`.
 *
 * argv: JSON file of `{ urls: string[], users: BenchUser[], seconds, perMinute, burst }`.
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { BenchSinkClient } from './bench-sink-client';
import { BenchWsClient, type PreparedRequest } from './bench-ws-client';
import type { BenchUser } from './relay-bench';
import { streamPut } from './sync-client';

interface LoadPlan {
  urls: string[];
  users: BenchUser[];
  seconds: number;
  perMinute: number;
  burst: number;
}

/** One burst: when it started, how long sending it took, and its last ack and delivery (ms after the start). */
interface BurstStats {
  n: number;
  startedAt: number;
  /** Acks and deliveries still to come. */
  remaining: number;
  sendMs: number;
  lastAckMs: number;
  lastDeliveredMs: number;
}

async function main(): Promise<void> {
  const plan = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as LoadPlan;
  const senders: BenchWsClient[] = [];
  const receivers: BenchWsClient[] = [];
  const everyone: Array<{ close(): Promise<unknown> }> = [];
  const jobs = plan.users.flatMap((user, u) => user.devices.map((device, i) => ({ u, i, device })));
  for (let at = 0; at < jobs.length; at += 100) {
    await Promise.all(jobs.slice(at, at + 100).map(async ({ u, i, device }) => {
      const url = plan.urls[i % plan.urls.length]!.replace(/^http/, 'ws') + '/v1/sync';
      if (i > 1) {
        // Nobody times devices 2 and up: they take their frames off the socket unparsed.
        everyone.push(await BenchSinkClient.connect(url, device));
        return;
      }
      const client = await BenchWsClient.connect(url, device, ['none']);
      everyone.push(client);
      if (i === 0) senders[u] = client;
      if (i === 1) receivers[u] = client;
      // Only device 1's live changes are timed: device 0 decodes only its replies.
      if (i !== 1) client.decodePushes = false;
    }));
  }
  process.stdout.write(`READY ${everyone.length}\n`);
  const input = createInterface({ input: process.stdin });
  const lines: string[] = [];
  let lineWaiter: (() => void) | undefined;
  input.on('line', (line) => {
    lines.push(line);
    lineWaiter?.();
  });
  /** The parent's next line (it answers `READY` with `go` and each `BURST` with a line). */
  const nextLine = async (): Promise<string> => {
    while (lines.length === 0) await new Promise<void>((resolve) => (lineWaiter = resolve));
    lineWaiter = undefined;
    return lines.shift()!;
  };
  await nextLine();

  const sentAt = new Map<string, { at: number; burst?: BurstStats }>();
  const latencies: number[] = [];
  /** Push sent to its ack (the writing relay and PostgreSQL, without the fan-out). */
  const ackLatencies: number[] = [];
  const burstLatencies: number[] = [];
  const burstAckLatencies: number[] = [];
  const bursts: BurstStats[] = [];
  // How late this process's own event loop ran: a busy load generator delays what it measures.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const perSecond = new Map<number, number>();
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  let received = 0;
  let errors = 0;
  receivers.forEach((client, u) => {
    client.onPush = (message) => {
      if (message.type !== 'changes') return;
      const now = performance.now();
      for (const change of message.changes) {
        const key = `${u}:${change.clientSeq}`;
        const sent = sentAt.get(key);
        if (sent === undefined) continue;
        sentAt.delete(key);
        latencies.push(now - sent.at);
        if (sent.burst) {
          burstLatencies.push(now - sent.at);
          sent.burst.lastDeliveredMs = Math.max(sent.burst.lastDeliveredMs, now - sent.burst.startedAt);
          burstStepDone(sent.burst);
        }
        received++;
        const second = Math.floor((now - started) / 1000);
        perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
      }
    };
  });
  /** An ack or a delivery of a burst message came: the last one of the burst is announced. */
  const burstStepDone = (burst: BurstStats): void => {
    if (--burst.remaining === 0) process.stdout.write(`BURST_DONE ${burst.n}\n`);
  };
  const seqs = new Array<number>(senders.length).fill(0);
  let next = 0;
  let sent = 0;
  /** The next push of the round robin, encoded (the device's own work, done before it is timed). */
  const prepareOne = (): { u: number; seq: number; request: PreparedRequest } => {
    const u = next++ % senders.length;
    const seq = ++seqs[u]!;
    return { u, seq, request: senders[u]!.prepare({ type: 'push', changes: [streamPut(seq, `load-${u}`, seq, `load ${seq}`)] }) };
  };
  const send = ({ u, seq, request }: { u: number; seq: number; request: PreparedRequest }, burst?: BurstStats): void => {
    const at = performance.now();
    sentAt.set(`${u}:${seq}`, { at, burst });
    sent++;
    void senders[u]!.sendPrepared(request).then((reply) => {
      const now = performance.now();
      ackLatencies.push(now - at);
      if (burst) {
        burstAckLatencies.push(now - at);
        burst.lastAckMs = Math.max(burst.lastAckMs, now - burst.startedAt);
        burstStepDone(burst);
      }
      if (reply.type === 'error') errors++;
    });
  };
  const intervalMs = 60_000 / plan.perMinute;
  const end = started + plan.seconds * 1000;
  let due = started;
  let minute = 0;
  while (performance.now() < end) {
    const now = performance.now();
    const thisMinute = Math.floor((now - started) / 60_000);
    if (thisMinute > minute && plan.burst > 0) {
      minute = thisMinute;
      // The burst's frames are encoded first, as the devices would have them ready; nothing else
      // is sent before them, so each connection's frames keep their order.
      const frames = Array.from({ length: plan.burst }, prepareOne);
      process.stdout.write(`BURST ${minute}\n`);
      await nextLine();
      // Each message of the burst is done when acked and delivered.
      const burst: BurstStats = { n: minute, startedAt: performance.now(), sendMs: 0, lastAckMs: 0, lastDeliveredMs: 0, remaining: 2 * plan.burst };
      bursts.push(burst);
      for (const frame of frames) send(frame, burst);
      burst.sendMs = performance.now() - burst.startedAt;
    }
    while (due <= performance.now()) {
      send(prepareOne());
      due += intervalMs;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(1, due - performance.now())));
  }
  input.close();
  process.stdin.destroy();
  const drainUntil = performance.now() + 10_000;
  while (sentAt.size > 0 && performance.now() < drainUntil) await new Promise((resolve) => setTimeout(resolve, 50));
  const throughput = [...perSecond.entries()].sort((a, b) => a[0] - b[0]);
  loopDelay.disable();
  const loopDelayMs = { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 };
  const cpu = process.cpuUsage(cpu0);
  const cpuPct = Math.round(((cpu.user + cpu.system) / 1000 / (performance.now() - started)) * 1000) / 10;
  process.stdout.write(`${JSON.stringify({ latencies, ackLatencies, burstLatencies, burstAckLatencies, bursts: bursts.map(({ sendMs, lastAckMs, lastDeliveredMs }) => ({ sendMs, lastAckMs, lastDeliveredMs })), loopDelayMs, cpuPct, throughput, sent, received, errors, undelivered: sentAt.size })}\n`);
  for (let at = 0; at < everyone.length; at += 500) await Promise.all(everyone.slice(at, at + 500).map((c) => c.close()));
}

main().catch((err: unknown) => {
  process.stderr.write(`load child failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
