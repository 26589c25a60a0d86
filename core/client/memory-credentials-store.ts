/**
 * Credentials held in memory only: for work on a device's credentials that must not touch the
 * stored ones, such as revoking the device a new sign-in replaces once the new one is saved.
 */
import type { CredentialsStore, DeviceCredentials } from '../ports/credentials-store';

export class MemoryCredentialsStore implements CredentialsStore {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private credentials: DeviceCredentials | null = null) {}

  async load(): Promise<DeviceCredentials | null> {
    return this.credentials ? { ...this.credentials } : null;
  }

  async save(credentials: DeviceCredentials): Promise<void> {
    this.credentials = { ...credentials };
  }

  async clear(): Promise<void> {
    this.credentials = null;
  }

  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(work, work);
    this.tail = run.catch(() => undefined);
    return run;
  }
}
