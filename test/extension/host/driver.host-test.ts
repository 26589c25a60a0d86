/**
 * The host end of the step driver (test/extension/support/host-driver.ts): one long test that
 * asks the Node side for steps, runs each inside this extension host (roo-sync's commands, the
 * fixture assistant's API, settings, status, event-loop measurements) and posts the outcome,
 * until the Node side says done. It lets one host serve many Node-side tests, and two hosts
 * (two devices) take turns in one test.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import * as vscode from 'vscode';
import { fixtureAssistant } from './fixture-api';
import { hostParam } from './host-params';
import { rooSync } from './roo-sync-api';

type Step = { id: number; action: string; args: unknown[] } | { done: true };

let histogram: IntervalHistogram | undefined;

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
    histogram = monitorEventLoopDelay({ resolution: 10 });
    histogram.enable();
  },
  'eventLoop.stop': () => {
    if (!histogram) throw new Error('eventLoop.start first');
    histogram.disable();
    const result = { maxMs: histogram.max / 1e6, p99Ms: histogram.percentile(99) / 1e6, meanMs: histogram.mean / 1e6 };
    histogram = undefined;
    return result;
  },
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
