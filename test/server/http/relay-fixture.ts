/**
 * Test helpers for the relay's HTTP side: a relay on 127.0.0.1 port 0 over a given database,
 * a small JSON client, and account set-up.
 */
import { createUser } from '../../../server/accounts/users';
import { loadRelayConfig } from '../../../server/config/load-config';
import type { RelayConfig } from '../../../server/config/relay-config';
import type { Database } from '../../../server/db/database';
import type { PgliteDatabase } from '../../../server/db/pglite-database';
import { startRelayServer, type RelayServer, type RelayServerOptions } from '../../../server/relay-server';
import { silentLogger } from '../../../server/observability/logger';
import { openTestPglite, resetDatabase } from '../../support/pglite';

export const PASSWORD = 'correct horse battery';

/** A relay config for tests: port 0, silent logs, plus `flags` (RelayConfig flag names, camelCase). */
export function testConfig(flags: Record<string, unknown> = {}): RelayConfig {
  return loadRelayConfig({ flags: { port: 0, logLevel: 'silent', ...flags }, env: {} });
}

/** Starts a relay over `db` (not owned: the relay leaves it open). */
export function startTestRelay(db: Database, flags: Record<string, unknown> = {}, options: RelayServerOptions = {}): Promise<RelayServer> {
  return startRelayServer(testConfig(flags), { db, logger: silentLogger }, { compactionIntervalMs: 0, ...options });
}

/**
 * Mocha hooks for a suite: one PGlite database and one relay over it for the whole suite,
 * closed after it (relay first). Returns accessors, valid inside tests.
 */
export function usePgliteRelay(flags: Record<string, unknown> = {}): { db(): PgliteDatabase; relay(): RelayServer } {
  let db: PgliteDatabase | undefined;
  let relay: RelayServer | undefined;
  before(async () => {
    db = await openTestPglite();
    relay = await startTestRelay(db, flags);
  });
  after(async () => {
    await relay?.close();
    await db?.close();
  });
  return { db: () => db!, relay: () => relay! };
}

/**
 * Mocha hooks for a suite shared by the PGlite and PostgreSQL runs: one relay over `setup.db()`
 * with `setup.flags()` plus `flags`, started before the suite and closed after it; the database
 * emptied before each test. Returns the relay's getter.
 */
export function useSuiteRelay(
  setup: { db(): Database; flags(): Record<string, unknown> },
  flags: Record<string, unknown> = {},
  options: RelayServerOptions = {},
): () => RelayServer {
  let relay: RelayServer | undefined;
  before(async () => {
    relay = await startTestRelay(setup.db(), { ...setup.flags(), ...flags }, options);
  });
  after(async () => {
    await relay?.close();
  });
  beforeEach(async () => {
    await resetDatabase(setup.db());
  });
  return () => relay!;
}

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** One JSON request; `body` may be a string (sent as is) or a value (JSON-encoded). */
export async function api<T = any>(
  relay: { url: string },
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let payload: string | undefined;
  if (options.body !== undefined) {
    payload = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${relay.url}${path}`, { method, headers, body: payload });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON (metrics)
  }
  return { status: res.status, headers: res.headers, body: body as T };
}

export interface SignedIn {
  userId: string;
  deviceId: string;
  accessToken: string;
  refreshToken: string;
}

/** Creates `email` (when new) and signs a device in. */
export async function signIn(relay: RelayServer, email: string, deviceName = 'laptop', create = true): Promise<SignedIn> {
  if (create) await createUser(relay.db, { email, password: PASSWORD }).catch((err: { code?: string }) => {
    if (err.code !== 'USER_EXISTS') throw err;
  });
  const res = await api<SignedIn>(relay, 'POST', '/v1/auth/login', {
    body: { email, password: PASSWORD, device: { name: deviceName, kind: 'vscode', platform: 'linux' } },
  });
  if (res.status !== 200) throw new Error(`sign-in failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Asserts an error answer's status and code. */
export function errorCode(res: ApiResponse): string | undefined {
  return (res.body as { error?: { code?: string } } | undefined)?.error?.code;
}
