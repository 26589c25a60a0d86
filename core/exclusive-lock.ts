/**
 * Runs async sections one at a time, in the order they asked, across awaits: a section starts
 * once every earlier one has settled (fulfilled or rejected). A failing section rejects only its
 * own caller. Sections must not ask for the lock they run under (that would wait forever).
 */
export class ExclusiveLock {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(section: () => Promise<T>): Promise<T> {
    const result = this.tail.then(section);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
