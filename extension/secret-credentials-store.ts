/**
 * CredentialsStore (core/ports/credentials-store.ts) over VS Code's SecretStorage: the device's
 * credentials, refresh token included, live only there (the OS keychain on the desktop), never
 * in settings, globalState or logs. `exclusive` queues callers in this extension host and holds
 * a lock folder in the extension's globalStorage, which every window of this machine shares, so
 * two windows never spend one refresh token.
 */
import { join } from 'node:path';
import type * as vscode from 'vscode';
import { SyncError } from '../core/errors';
import { parseCredentials } from '../core/node/credentials/file-credentials-store';
import { ExclusiveSection } from '../core/node/credentials/exclusive-section';
import type { CredentialsStore, DeviceCredentials } from '../core/ports/credentials-store';

/** The SecretStorage key. */
export const CREDENTIALS_SECRET_KEY = 'roo-sync.deviceCredentials';

export class SecretCredentialsStore implements CredentialsStore {
  private readonly section: ExclusiveSection;

  /** `lockDir`: a folder shared by the windows of this machine (the extension's globalStorage). */
  constructor(
    private readonly secrets: vscode.SecretStorage,
    lockDir: string,
  ) {
    this.section = new ExclusiveSection(join(lockDir, 'credentials'));
  }

  async load(): Promise<DeviceCredentials | null> {
    let text: string | undefined;
    try {
      text = await this.secrets.get(CREDENTIALS_SECRET_KEY);
    } catch (err) {
      throw new SyncError('CREDENTIALS_UNREADABLE', `cannot read the credentials from VS Code's secret storage: ${(err as Error).message}`, {}, { cause: err });
    }
    return text === undefined ? null : parseCredentials(text, 'VS Code secret storage');
  }

  async save(credentials: DeviceCredentials): Promise<void> {
    try {
      await this.secrets.store(CREDENTIALS_SECRET_KEY, JSON.stringify(credentials));
    } catch (err) {
      throw new SyncError('CREDENTIALS_IO', `cannot save the credentials in VS Code's secret storage: ${(err as Error).message}`, {}, { cause: err });
    }
  }

  async clear(): Promise<void> {
    try {
      await this.secrets.delete(CREDENTIALS_SECRET_KEY);
    } catch (err) {
      throw new SyncError('CREDENTIALS_IO', `cannot remove the credentials from VS Code's secret storage: ${(err as Error).message}`, {}, { cause: err });
    }
  }

  exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.section.run(work);
  }
}
