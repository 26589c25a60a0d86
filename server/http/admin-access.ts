/**
 * Local administration of a running relay on the embedded database. PGlite lets one process
 * hold the data directory, so while the relay runs `roo-sync user add` cannot open it
 * (DB_DATA_DIR_LOCKED). Instead, at every start the relay writes a fresh random token into
 * its data directory (`roo-sync-admin.json`, mode 0600: readable only by the user the relay
 * runs as, who can read the database files anyway) and serves `POST /v1/admin/users` to
 * callers that present it from this machine (a loopback peer, or one whose address is the
 * relay's own). The CLI finds the file when the data directory is locked by that relay.
 * The file goes away when the relay stops; a new start makes a new token.
 */
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';

export const ADMIN_ACCESS_FILE = 'roo-sync-admin.json';
export const ADMIN_USERS_PATH = '/v1/admin/users';

/** What the file holds. */
export interface AdminAccess {
  /** Where the relay answers from this machine (`http://127.0.0.1:8787`). */
  url: string;
  token: string;
  /** The relay's process id (the same as the data directory's lock holder). */
  pid: number;
}

export function newAdminToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The URL this machine reaches the relay at: loopback when it listens on every interface or on loopback. */
export function localUrlOf(address: AddressInfo): string {
  const any = address.address === '0.0.0.0' || address.address === '::';
  if (any) return `http://127.0.0.1:${address.port}`;
  return address.family === 'IPv6' ? `http://[${address.address}]:${address.port}` : `http://${address.address}:${address.port}`;
}

/** Writes the access file (0600, replaced atomically); returns its remover, which leaves a newer relay's file alone. */
export function writeAdminAccess(dataDir: string, access: AdminAccess): () => void {
  const path = join(dataDir, ADMIN_ACCESS_FILE);
  const partial = `${path}.${process.pid}.partial`;
  rmSync(partial, { force: true });
  writeFileSync(partial, `${JSON.stringify(access)}\n`, { mode: 0o600, flag: 'wx' });
  renameSync(partial, path);
  return () => {
    if (readAdminAccess(dataDir)?.token === access.token) rmSync(path, { force: true });
  };
}

/** The access file of `dataDir`, or undefined when there is none (or it is unreadable). */
export function readAdminAccess(dataDir: string): AdminAccess | undefined {
  try {
    const parsed = JSON.parse(readFileSync(join(dataDir, ADMIN_ACCESS_FILE), 'utf8')) as Partial<AdminAccess>;
    if (typeof parsed.url === 'string' && typeof parsed.token === 'string' && typeof parsed.pid === 'number') {
      return { url: parsed.url, token: parsed.token, pid: parsed.pid };
    }
  } catch {
    // missing or unreadable: no local administration
  }
  return undefined;
}

/** The request comes from this machine: a loopback peer, or a peer with the relay's own address. */
export function isLocalPeer(socket: Socket): boolean {
  const peer = (socket.remoteAddress ?? '').replace(/^::ffff:/i, '');
  if (peer === '::1' || /^127\.\d+\.\d+\.\d+$/.test(peer)) return true;
  const local = (socket.localAddress ?? '').replace(/^::ffff:/i, '');
  return peer !== '' && peer === local;
}

/** Compares a presented token with the relay's in constant time. */
export function tokenMatches(presented: string, token: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(presented), digest(token));
}
