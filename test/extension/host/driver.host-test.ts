/**
 * The host end of the step driver (test/extension/support/host-driver.ts): one long test that
 * asks the Node side for steps, runs each inside this extension host (roo-sync's commands, the
 * fixture assistant's API, settings, status, event-loop measurements) and posts the outcome,
 * until the Node side says done. It lets one host serve many Node-side tests, and two hosts
 * (two devices) take turns in one test.
 */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import * as vscode from 'vscode';
import { fixtureAssistant } from './fixture-api';
import { hostParam } from './host-params';
import { rooSync } from './roo-sync-api';

type Step = { id: number; action: string; args: unknown[] } | { done: true };

/** monitorEventLoopDelay's sampling interval. */
const LOOP_RESOLUTION_MS = 10;
let histogram: IntervalHistogram | undefined;
let profiler: Session | undefined;
/** Stalls of this host's loop longer than the threshold, as [start (µs of the monotonic clock a CPU profile uses), duration (ms)]. */
let stalls: { timer: NodeJS.Timeout; thresholdMs: number; last: number; found: [number, number][] } | undefined;

function inspectorPost<T>(session: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => session.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result as T))));
}

const actions: Record<string, (...args: any[]) => unknown> = {
  command: async (id: string, ...args: unknown[]) => {
    await rooSync(); // its commands exist once it has activated (on startup finished)
    return vscode.commands.executeCommand(id, ...args);
  },
  setting: (key: string, value: unknown) => vscode.workspace.getConfiguration().update(key, value, vscode.ConfigurationTarget.Global),
  status: async () => {
    const api = await rooSync();
    const device = api.testing.controller.device;
    return { ...api.status(), bar: api.testing.statusBar(), view: api.testing.view(), device: device?.status ?? null, workspaces: device?.workspaceIds ?? [] };
  },
  /** The view's device rows (label, description, context value), the notifications shown so far, the context keys set, the view's top-level rows. */
  ui: async () => {
    const api = await rooSync();
    return { deviceItems: api.testing.viewDeviceItems(), notices: api.testing.notices(), contextKeys: api.testing.contextKeys(), viewRoots: api.testing.viewRoots() };
  },
  /** The device's relay link framing (codec, compression threshold, bytes sent), from its worker. */
  wire: async () => (await (await rooSync()).testing.controller.device?.device.wire()) ?? null,
  activateMs: async () => (await rooSync()).testing.activateMs,
  credentials: async () => (await rooSync()).testing.storedCredentials(),
  mementos: async () => (await rooSync()).testing.mementos(),
  /** Waits until the device has handed over and applied everything so far. */
  idle: async () => {
    await (await rooSync()).testing.controller.device?.device.idle();
  },
  hasFixture: () => vscode.extensions.getExtension('RooVeterinaryInc.roo-cline') !== undefined,
  fixture: async (method: string, ...args: unknown[]) => {
    const api = (await fixtureAssistant()) as unknown as Record<string, unknown> & { fixture: Record<string, unknown> };
    const target = typeof api[method] === 'function' ? api : api.fixture;
    const fn = target[method];
    if (typeof fn === 'function') return (fn as (...a: unknown[]) => unknown).apply(target, args);
    return target[method];
  },
  'eventLoop.start': () => {
    histogram?.disable();
    histogram = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    histogram.enable();
  },
  'eventLoop.stop': () => {
    if (!histogram) throw new Error('eventLoop.start first');
    histogram.disable();
    // The histogram records the interval between two ticks of its own timer (Node's RecordDelta),
    // so no sample is under the resolution: an idle loop reads 10 ms. The loop's delay, what a
    // stall is, is what a tick came later than that.
    const delayMs = (intervalNs: number) => Math.max(0, intervalNs / 1e6 - LOOP_RESOLUTION_MS);
    const result = { maxMs: delayMs(histogram.max), p99Ms: delayMs(histogram.percentile(99)), meanMs: delayMs(histogram.mean) };
    histogram = undefined;
    return result;
  },
  /** Records each stall of this host's loop longer than `thresholdMs` (a 5 ms timer that notes its own lateness). */
  'stalls.start': (thresholdMs = 30) => {
    if (stalls) clearInterval(stalls.timer);
    const micros = () => Number(process.hrtime.bigint() / 1000n);
    const record = { thresholdMs, last: micros(), found: [] as [number, number][], timer: undefined as unknown as NodeJS.Timeout };
    record.timer = setInterval(() => {
      const now = micros();
      const gap = (now - record.last) / 1000 - 5;
      if (gap > record.thresholdMs) record.found.push([record.last, Math.round(gap)]);
      record.last = now;
    }, 5);
    stalls = record;
  },
  'stalls.stop': () => {
    if (!stalls) throw new Error('stalls.start first');
    clearInterval(stalls.timer);
    const found = stalls.found;
    stalls = undefined;
    return found;
  },
  /** A CPU profile of this host's main thread (node:inspector), written to `path` at stop. */
  'profile.start': async () => {
    profiler = new Session();
    profiler.connect();
    await inspectorPost(profiler, 'Profiler.enable');
    await inspectorPost(profiler, 'Profiler.setSamplingInterval', { interval: 500 });
    await inspectorPost(profiler, 'Profiler.start');
  },
  'profile.stop': async (path: string) => {
    if (!profiler) throw new Error('profile.start first');
    const { profile } = await inspectorPost<{ profile: unknown }>(profiler, 'Profiler.stop');
    profiler.disconnect();
    profiler = undefined;
    await writeFile(path, JSON.stringify(profile));
  },
  /** The extension host process's resident memory (MB): its main thread and the device worker. */
  rssMb: () => Math.round(process.memoryUsage().rss / 1048576),
  workspaceFolder: () => vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? null,
};

async function post(url: string, body: unknown): Promise<Step> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`driver answered ${res.status}`);
  return (await res.json()) as Step;
}

function errorOf(error: unknown): { message: string; code?: string } {
  const e = error as { message?: unknown; code?: unknown };
  return { message: String(e?.message ?? error), ...(typeof e?.code === 'string' ? { code: e.code } : {}) };
}

describe('driven steps', () => {
  it('runs the steps the Node side sends until it is done', async function () {
    this.timeout(0);
    const url = `${hostParam('driverUrl')}/host/${encodeURIComponent(hostParam('hostName'))}`;
    let step = await post(url, { ready: true });
    while (!('done' in step)) {
      let outcome: { id: number; value?: unknown; error?: { message: string; code?: string } };
      try {
        const action = actions[step.action];
        if (!action) throw new Error(`unknown driver action ${step.action}`);
        outcome = { id: step.id, value: (await action(...step.args)) ?? null };
      } catch (error) {
        outcome = { id: step.id, error: errorOf(error) };
      }
      step = await post(url, outcome);
    }
  });
});
