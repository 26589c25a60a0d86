/** A boolean health state that tells its listeners when it flips. */
export class HealthSignal {
  private readonly listeners = new Set<(healthy: boolean) => void>();

  constructor(private state: boolean) {}

  get value(): boolean {
    return this.state;
  }

  /** Sets the state; listeners hear only real changes. A throwing listener does not stop the others. */
  set(healthy: boolean): void {
    if (healthy === this.state) return;
    this.state = healthy;
    for (const listener of [...this.listeners]) {
      try {
        listener(healthy);
      } catch {
        // A listener's own failure is its business; the signal must reach the rest.
      }
    }
  }

  /** Returns the remover. */
  on(listener: (healthy: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  clear(): void {
    this.listeners.clear();
  }
}
