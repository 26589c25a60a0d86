/** Collects batches from a watcher and lets a test wait for the next one (no fixed sleeps). */
export class BatchRecorder<B> {
  readonly batches: B[] = [];
  private waiters: Array<{ resolve: (b: B) => void; index: number }> = [];

  /** Pass this to `onBatch`. */
  readonly listener = (batch: B): void => {
    this.batches.push(batch);
    const index = this.batches.length - 1;
    for (const w of this.waiters.filter((w) => w.index === index)) w.resolve(batch);
    this.waiters = this.waiters.filter((w) => w.index !== index);
  };

  /** Resolves with batch number `index` (0-based) once it arrived; rejects after `timeoutMs`. */
  nth(index: number, timeoutMs = 10_000): Promise<B> {
    if (index < this.batches.length) return Promise.resolve(this.batches[index]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`batch #${index} did not arrive in ${timeoutMs} ms; got ${JSON.stringify(this.batches)}`)), timeoutMs);
      this.waiters.push({
        index,
        resolve: (b) => {
          clearTimeout(timer);
          resolve(b);
        },
      });
    });
  }

  /** The next batch after those already received. */
  next(timeoutMs?: number): Promise<B> {
    return this.nth(this.batches.length, timeoutMs);
  }
}
