/**
 * A small typed listener set: `add` returns the listener's remover, `emit` calls every
 * listener and keeps going when one throws (a faulty listener must not break the emitter).
 */
export class Listeners<Args extends unknown[]> {
  private readonly set = new Set<(...args: Args) => void>();

  add(listener: (...args: Args) => void): () => void {
    // Wrapped so the same function added twice is called twice and removed once per remover.
    const entry = (...args: Args) => listener(...args);
    this.set.add(entry);
    return () => {
      this.set.delete(entry);
    };
  }

  get size(): number {
    return this.set.size;
  }

  emit(...args: Args): void {
    for (const listener of [...this.set]) {
      try {
        listener(...args);
      } catch {
        // The listener's failure is its own; the others still hear the event.
      }
    }
  }
}
