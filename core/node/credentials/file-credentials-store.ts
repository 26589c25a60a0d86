/**
 * CredentialsStore in one JSON file (the CLI's `credentials.json` under the user's config
 * folder). The file is created with mode 0600 in a 0700 folder and replaced atomically (temp
 * file with mode 0600, fsync, rename), so it never exists half-written or readable by others.
 * `exclusive` holds a `<file>.lock` directory lock across processes (core's file lock, the
 * one the task stores use), so two processes of one device never spend one refresh token.
 *
 * Codes: CREDENTIALS_UNREADABLE (not JSON, or fields missing), CREDENTIALS_IO (the file could
 * not be written or removed), STORE_LOCKED (another process held the lock too long).
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SyncError } from '../../errors';
import { asDeviceId } from '../../ids';
import type { CredentialsStore, DeviceCredentials } from '../../ports/credentials-store';
import { isErrnoCode, syncDirectory } from '../stores/json-file';
import { ExclusiveSection } from './exclusive-section';

export class FileCredentialsStore implements CredentialsStore {
  private readonly section: ExclusiveSection;

  constructor(readonly path: string) {
    this.section = new ExclusiveSection(path, { waitMs: 30_000 });
  }

  async load(): Promise<DeviceCredentials | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if (isErrnoCode(err, 'ENOENT')) return null;
      throw new SyncError('CREDENTIALS_UNREADABLE', `cannot read ${this.path}: ${(err as Error).message}`, { path: this.path }, { cause: err });
    }
    return parseCredentials(text, this.path);
  }

  async save(credentials: DeviceCredentials): Promise<void> {
    const dir = dirname(this.path);
    const temp = join(dir, `.${basename(this.path)}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(`${JSON.stringify(credentials, null, 2)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      // The umask cannot widen 0600, but a file system that ignores the mode gets it set again.
      await chmod(temp, 0o600);
      await rename(temp, this.path);
      await syncDirectory(dir);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw new SyncError('CREDENTIALS_IO', `cannot write ${this.path}: ${(err as Error).message}`, { path: this.path }, { cause: err });
    }
  }

  async clear(): Promise<void> {
    try {
      await unlink(this.path);
    } catch (err) {
      if (isErrnoCode(err, 'ENOENT')) return;
      throw new SyncError('CREDENTIALS_IO', `cannot remove ${this.path}: ${(err as Error).message}`, { path: this.path }, { cause: err });
    }
  }

  exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.section.run(work);
  }
}

/** Parses and checks a credentials file's text (CREDENTIALS_UNREADABLE when it is not one). */
export function parseCredentials(text: string, path: string): DeviceCredentials {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SyncError('CREDENTIALS_UNREADABLE', `${path} is not valid JSON; sign in again`, { path });
  }
  const v = value as Partial<Record<keyof DeviceCredentials, unknown>> | null;
  const strings = ['serverUrl', 'userId', 'email', 'deviceId', 'deviceName', 'refreshToken'] as const;
  if (v === null || typeof v !== 'object' || strings.some((k) => typeof v[k] !== 'string') || typeof v.refreshTokenExpiresAt !== 'number') {
    throw new SyncError('CREDENTIALS_UNREADABLE', `${path} does not hold roo-sync credentials; sign in again`, { path });
  }
  return {
    serverUrl: v.serverUrl as string,
    userId: v.userId as string,
    email: v.email as string,
    deviceId: asDeviceId(v.deviceId as string),
    deviceName: v.deviceName as string,
    refreshToken: v.refreshToken as string,
    refreshTokenExpiresAt: v.refreshTokenExpiresAt as number,
  };
}
