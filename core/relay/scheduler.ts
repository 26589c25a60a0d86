/**
 * Time as the reference relay sees it: a clock and one-shot timers, injectable so tests and the
 * convergence simulation control time instead of waiting for it.
 */

/** An opaque handle returned by `Scheduler.setTimer`. */
export type TimerHandle = { readonly __timer: true };

export interface Scheduler {
  /** Milliseconds since the epoch (or any fixed origin, consistently). */
  now(): number;
  /** Runs `fn` once after `delayMs`. Library timers never keep a process alive. */
  setTimer(fn: () => void, delayMs: number): TimerHandle;
  /** Cancels a timer; a no-op for a timer that already ran or was cleared. */
  clearTimer(handle: TimerHandle): void;
}

/** Wall-clock time and real, unref()'d timers. */
export const realScheduler: Scheduler = {
  now: () => Date.now(),
  setTimer(fn, delayMs) {
    const timer = setTimeout(fn, Math.max(0, delayMs));
    (timer as { unref?: () => void }).unref?.();
    return timer as unknown as TimerHandle;
  },
  clearTimer(handle) {
    clearTimeout(handle as unknown as ReturnType<typeof setTimeout>);
  },
};

interface ManualTimer {
  id: number;
  dueAt: number;
  fn: () => void;
}

/**
 * A scheduler whose time moves only when told (`advance`). Timers due at the same instant run
 * in the order they were set. For unit tests and deterministic simulations.
 */
export class ManualScheduler implements Scheduler {
  private time: number;
  private nextId = 1;
  private readonly timers = new Map<number, ManualTimer>();

  constructor(startAt = 1_700_000_000_000) {
    this.time = startAt;
  }

  now(): number {
    return this.time;
  }

  setTimer(fn: () => void, delayMs: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { id, dueAt: this.time + Math.max(0, delayMs), fn });
    return { __timer: true, id } as unknown as TimerHandle;
  }

  clearTimer(handle: TimerHandle): void {
    this.timers.delete((handle as unknown as { id: number }).id);
  }

  /** Number of timers not yet run or cleared. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, running every timer that falls due on the way, in time order. */
  advance(ms: number): void {
    const target = this.time + Math.max(0, ms);
    for (;;) {
      let next: ManualTimer | undefined;
      for (const timer of this.timers.values()) {
        if (timer.dueAt <= target && (!next || timer.dueAt < next.dueAt || (timer.dueAt === next.dueAt && timer.id < next.id))) {
          next = timer;
        }
      }
      if (!next) break;
      this.timers.delete(next.id);
      this.time = Math.max(this.time, next.dueAt);
      next.fn();
    }
    this.time = target;
  }
}
