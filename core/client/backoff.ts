/** Reconnect delays: exponential from `initialMs`, capped at `maxMs`, spread by `jitter`. */
export interface BackoffOptions {
  /** First retry delay. */
  initialMs: number;
  /** Longest retry delay (the slow pace once offline). */
  maxMs: number;
  /** Random spread, 0..1: a delay d becomes d * (1 ± jitter). */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000, jitter: 0.2 };

/**
 * The delay before attempt number `failures + 1`, after `failures` (>= 1) failures in a row.
 * `random` is in [0, 1); 0.5 gives the delay without spread.
 */
export function backoffDelay(failures: number, options: BackoffOptions, random: number): number {
  const exponent = Math.min(Math.max(0, failures - 1), 30);
  const base = Math.min(options.maxMs, options.initialMs * 2 ** exponent);
  const jitter = Math.min(1, Math.max(0, options.jitter));
  return Math.max(0, Math.round(base * (1 - jitter + 2 * jitter * random)));
}
