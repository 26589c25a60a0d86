/**
 * The fault scenarios of issue #15, each on a FaultWorld with real processes, sized by `changes`
 * (the short version in `npm test`, the long one in `npm run bench -- faults`). A scenario makes
 * a new account with its devices, drives the assistants' real write pattern on own and shared
 * tasks, injects its fault mid-load, heals it, waits for the devices to converge and audits
 * their stores (store-audit.ts). Shared tasks are created on one device, reach the others, are
 * opened there and then written on every device at once: each assistant rewrites them from its
 * own (stale) memory, so "a stale rewrite is not a deletion" is exercised all the time.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AssistantWorkload } from './assistant-workload';
import type { FaultWorld, Peer } from './fault-world';
import { auditStores, awaitConvergence, mergeMade, type AuditResult } from './store-audit';

/** What a scenario left on the devices (the audit's counts, over all devices) and how it got there. */
export interface ScenarioReport extends AuditResult {
  name: string;
  acknowledged: number;
  convergeMs: number;
  converged: boolean;
  /** Refresh tokens presented again: within the relay's reuse grace, and outside it (device revoked). */
  refreshGraced: number;
  refreshReused: number;
  /** Device and relay log excerpts when it did not converge. */
  logs?: string;
}

export interface ScenarioOptions {
  /** Messages written across all devices. */
  changes: number;
  /** Longest wait for convergence after the fault heals. */
  convergeTimeoutMs: number;
  /** How long an outage (database, Redis, partition) lasts. */
  outageMs: number;
}

export interface Scenario {
  name: string;
  run(world: FaultWorld, options: ScenarioOptions): Promise<ScenarioReport>;
}

const SHARED_TASKS = 4;
const OWN_TASKS = 6;
/**
 * About how many messages the offline device writes per task: a day of work spans many tasks.
 * The assistant rewrites a task's files whole on every message, so writing one task of n
 * messages costs n^2 / 2 entries serialized: 50,000 messages on 10 tasks took most of an hour
 * to write on this machine before anything was synced.
 */
const OFFLINE_MESSAGES_PER_TASK = 1000;

/** Creates the shared tasks on the first peer, waits until every peer has them, and opens them there. */
async function shareTasks(peers: Peer[], convergeTimeoutMs: number): Promise<string[]> {
  const ids = Array.from({ length: SHARED_TASKS }, (_, i) => `shared-${i}`);
  for (const id of ids) await peers[0]!.assistant.append(id);
  const made = mergeMade(peers[0]!.assistant.made);
  const { converged, audit } = await awaitConvergence(peers.map((p) => p.device.storePath), made, convergeTimeoutMs);
  if (!converged) throw new Error(`shared tasks did not reach every device: ${audit.examples.join('; ')}`);
  for (const peer of peers.slice(1)) {
    for (const id of ids) {
      const files = ['ui_messages.json', 'api_conversation_history.json', 'history_item.json'].map((name) => join(peer.device.storePath, 'tasks', id, name));
      await until(() => files.every((file) => existsSync(file)));
      await peer.assistant.open(id);
    }
  }
  return ids;
}

/** Appends `count` messages, round robin over the peer's own tasks and the shared ones; `onEach` after every one. */
async function writeLoop(assistant: AssistantWorkload, shared: string[], count: number, onEach?: (done: number) => Promise<void> | void, ownTasks = OWN_TASKS): Promise<void> {
  const own = Array.from({ length: ownTasks }, (_, i) => `${assistant.writer}-task-${i}`);
  const tasks = [...own, ...shared];
  for (let i = 0; i < count; i++) {
    await assistant.append(tasks[i % tasks.length]!);
    await onEach?.(i + 1);
  }
}

/** Resolves when `check()` holds (polled every 20 ms). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 20));
}

async function finish(name: string, world: FaultWorld, peers: Peer[], options: ScenarioOptions, healedAt: number, startedAt: number): Promise<ScenarioReport> {
  for (const peer of peers) await peer.device.start();
  const made = mergeMade(...peers.map((p) => p.assistant.made));
  const result = await awaitConvergence(peers.map((p) => p.device.storePath), made, options.convergeTimeoutMs);
  const audit: AuditResult = result.converged ? result.audit : await auditStores(peers.map((p) => p.device.storePath), made);
  const acknowledged = await world.acknowledged([...made.values()].flat());
  const refresh = await world.refreshReuse(startedAt);
  const report: ScenarioReport = {
    name,
    ...audit,
    acknowledged,
    refreshGraced: refresh.graced,
    refreshReused: refresh.reused,
    convergeMs: Date.now() - healedAt,
    converged: result.converged,
  };
  if (!result.converged) {
    report.logs = peers.map((p) => `--- ${p.device.name}\n${p.device.log().slice(-(Number(process.env.FAULT_LOG_CHARS) || 3000))}`).join('\n')
      + `\n--- relay problems\n${world.relays.flatMap((r) => r.problems().slice(-10)).map((e) => JSON.stringify(e)).join('\n')}`;
  }
  for (const peer of peers) await peer.device.stop();
  return report;
}

/** Both devices write at once; `fault` runs when half the changes are written and returns its heal. */
function concurrentScenario(name: string, fault: (world: FaultWorld, peers: Peer[], options: ScenarioOptions) => Promise<() => Promise<void>>): Scenario {
  return {
    name,
    async run(world, options) {
      const startedAt = Date.now();
      const peers = await world.devices(2, name);
      const shared = await shareTasks(peers, options.convergeTimeoutMs);
      const each = Math.ceil((options.changes - SHARED_TASKS) / peers.length);
      let written = 0;
      let half!: () => void;
      const halfway = new Promise<void>((resolve) => (half = resolve));
      const writers = peers.map((peer) => writeLoop(peer.assistant, shared, each, () => {
        if (++written === Math.ceil((each * peers.length) / 2)) half();
      }));
      await halfway;
      const heal = await fault(world, peers, options);
      await Promise.all(writers);
      await heal();
      return finish(name, world, peers, options, Date.now(), startedAt);
    },
  };
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export const SCENARIOS: Scenario[] = [
  concurrentScenario('relay-sigkill', async (world) => {
    // SIGKILL one of the two relays behind the proxy during heavy pushes; the other serves on.
    await world.relays[0]!.kill();
    return async () => {
      await world.relays[0]!.start();
    };
  }),
  concurrentScenario('postgres-restart', async (world, _peers, options) => {
    await world.pg.stop('immediate');
    await pause(options.outageMs);
    return async () => {
      await world.pg.start();
    };
  }),
  concurrentScenario('redis-restart', async (world, _peers, options) => {
    await world.redis.stop();
    await pause(options.outageMs);
    return async () => {
      await world.redis.start();
    };
  }),
  concurrentScenario('flaky-network', async (_world, peers, options) => {
    // Latency with jitter, a share of new connections refused, every socket reset, then one-way blackholes.
    for (const peer of peers) peer.link.set({ latencyMs: 40, jitterMs: 60, dropNewRate: 0.3 });
    for (const peer of peers) peer.link.resetAll();
    peers[0]!.link.set({ blackhole: 'down' });
    peers[1]!.link.set({ blackhole: 'up' });
    await pause(options.outageMs);
    return async () => {
      for (const peer of peers) {
        peer.link.set({ latencyMs: 0, jitterMs: 0, dropNewRate: 0, blackhole: null });
        peer.link.resetAll();
      }
    };
  }),
  {
    name: 'device-sigkill',
    async run(world, options) {
      // SIGKILL the writing device (mid outbox append) and the receiving one (mid apply), again and again.
      const startedAt = Date.now();
      const peers = await world.devices(2, 'device-sigkill');
      const shared = await shareTasks(peers, options.convergeTimeoutMs);
      const each = Math.ceil((options.changes - SHARED_TASKS) / peers.length);
      const killEvery = Math.max(10, Math.floor(each / 4));
      const writers = peers.map((peer, i) => writeLoop(peer.assistant, shared, each, async (done) => {
        if (done % killEvery === Math.floor(killEvery / 2) * i) {
          // Restarted at once and killed again whenever its turn comes, also inside the token
          // refresh it makes at start: the relay's reuse grace (docs/server.md) keeps a device
          // killed after the relay rotated its token and before it saved the new one signed in.
          await peer.device.kill();
          await peer.device.start();
        }
      }));
      await Promise.all(writers);
      return finish('device-sigkill', world, peers, options, Date.now(), startedAt);
    },
  },
  {
    name: 'offline-24h',
    async run(world, options) {
      // A device cut off (its link refuses and drops everything) makes most of the changes,
      // on its own tasks and on shared ones the other device changes meanwhile; then it reconnects.
      const startedAt = Date.now();
      const peers = await world.devices(2, 'offline-24h');
      const shared = await shareTasks(peers, options.convergeTimeoutMs);
      const [away, home] = peers as [Peer, Peer];
      away.link.set({ blackhole: 'both', dropNewRate: 1 });
      away.link.resetAll();
      await until(() => /offline/.test(away.device.log()));
      const awayCount = Math.ceil((options.changes - SHARED_TASKS) * 0.8);
      await Promise.all([
        writeLoop(away.assistant, shared, awayCount, undefined, Math.max(OWN_TASKS, Math.ceil(awayCount / OFFLINE_MESSAGES_PER_TASK) - SHARED_TASKS)),
        writeLoop(home.assistant, shared, options.changes - SHARED_TASKS - awayCount),
      ]);
      away.link.set({ blackhole: null, dropNewRate: 0 });
      return finish('offline-24h', world, peers, options, Date.now(), startedAt);
    },
  },
];
