/**
 * Port: where a device keeps what it signs in with between runs. The CLI stores it in a 0600
 * file (core/node/credentials/file-credentials-store.ts), the extension in VS Code's
 * SecretStorage. The access token is never stored: it lives in memory and is renewed from
 * the refresh token.
 */
import type { DeviceId } from '../ids';

/** What a signed-in device keeps. */
export interface DeviceCredentials {
  /** The relay's base URL, `http(s)://host[:port]` (no trailing slash). */
  serverUrl: string;
  userId: string;
  /** The account's email, for status lines ("signed in as ..."). */
  email: string;
  deviceId: DeviceId;
  deviceName: string;
  /** The current (rotating) refresh token. Secret: never logged. */
  refreshToken: string;
  /** When the refresh token expires (ms since epoch). */
  refreshTokenExpiresAt: number;
}

export interface CredentialsStore {
  /** The stored credentials, or null when signed out. Throws CREDENTIALS_UNREADABLE for a damaged store. */
  load(): Promise<DeviceCredentials | null>;
  /** Replaces the stored credentials atomically. */
  save(credentials: DeviceCredentials): Promise<void>;
  /** Forgets them (signed out). Idempotent. */
  clear(): Promise<void>;
  /**
   * Runs `work` while no other holder of this store (another process sharing the same file, or
   * another caller in this one) runs its own: token rotation reads the refresh token, trades it
   * and saves the new one inside it, so two processes never spend one refresh token twice
   * (the relay revokes a device whose refresh token is reused).
   */
  exclusive<T>(work: () => Promise<T>): Promise<T>;
}
