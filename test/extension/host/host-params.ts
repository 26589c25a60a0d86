/**
 * What the Node side of a test hands to the suites it runs in an extension host (the relay's
 * URL, the account, which device this host is...). The run shim sets them before mocha loads
 * the suites; every bundled suite reads the same global.
 */
export interface HostParams {
  /** Mocha's per-test timeout inside the host. */
  timeoutMs?: number;
  [key: string]: unknown;
}

const KEY = '__rooSyncHostParams';

export function setHostParams(params: HostParams): void {
  (globalThis as Record<string, unknown>)[KEY] = params;
}

export function hostParams(): HostParams {
  return ((globalThis as Record<string, unknown>)[KEY] as HostParams | undefined) ?? {};
}

/** A required string parameter; throws naming it when the run did not give it. */
export function hostParam(name: string): string {
  const value = hostParams()[name];
  if (typeof value !== 'string') throw new Error(`host parameter ${name} was not given to this run`);
  return value;
}
