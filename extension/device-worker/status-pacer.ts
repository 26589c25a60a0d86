/**
 * Paces the device's status messages to the extension host: the first change goes at once, and
 * later ones at most every `intervalMs`, carrying the latest status. A first sync changes the
 * queue count on every acknowledged push, and each message wakes the host, which shares its event
 * loop with the assistant. `flush()` sends a held change at once: a reply to the host goes after
 * the status it may read (a caller of `idle()` then sees the drained queue).
 */
export type Schedule = (run: () => void, ms: number) => { cancel(): void };

export const nodeSchedule: Schedule = (run, ms) => {
  const timer = setTimeout(run, ms);
  return { cancel: () => clearTimeout(timer) };
};

export class StatusPacer {
  private pause: { cancel(): void } | null = null;
  private held = false;

  constructor(
    private readonly send: () => void,
    private readonly intervalMs: number,
    private readonly schedule: Schedule = nodeSchedule,
  ) {}

  /** The status changed. */
  changed(): void {
    if (this.pause) {
      this.held = true;
      return;
    }
    this.send();
    this.pause = this.schedule(() => {
      this.pause = null;
      if (!this.held) return;
      this.held = false;
      this.changed();
    }, this.intervalMs);
  }

  /** Sends a held change now (the pause goes on). */
  flush(): void {
    if (!this.held) return;
    this.held = false;
    this.send();
  }

  /** Drops a held change and the pause. */
  close(): void {
    this.pause?.cancel();
    this.pause = null;
    this.held = false;
  }
}
