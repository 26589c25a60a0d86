/**
 * Signing a device in and out: the steps the CLI's `login`/`logout` and the extension's Sign
 * In/Sign Out share. Sign-in registers a new device on the relay and stores its credentials
 * (never the password, never the access token); sign-out revokes the device, then forgets them.
 */
import { asDeviceId } from '../ids';
import type { CredentialsStore, DeviceCredentials } from '../ports/credentials-store';
import { AuthSession, type AuthSessionOptions } from './auth-session';
import { RelayAuthClient, type DeviceDescription } from './relay-auth-client';
import type { RelayHttpOptions } from './relay-http';

export interface SignInInput {
  serverUrl: string;
  email: string;
  /** Used for this one request; never stored or logged. */
  password: string;
  device: DeviceDescription;
}

/**
 * Registers this machine as a new device and saves its credentials. Errors keep the relay's
 * codes (AUTH_INVALID_CREDENTIALS, AUTH_RATE_LIMITED) or RELAY_UNREACHABLE / RELAY_URL_INVALID;
 * nothing is stored then.
 */
export async function signIn(
  input: SignInInput,
  store: CredentialsStore,
  options: Omit<AuthSessionOptions, 'store'> = {},
): Promise<AuthSession> {
  const client = new RelayAuthClient(input.serverUrl, options.http);
  const login = await client.login({ email: input.email, password: input.password, device: input.device });
  const creds: DeviceCredentials = {
    serverUrl: client.serverUrl,
    userId: login.userId,
    email: input.email.trim(),
    deviceId: asDeviceId(login.deviceId),
    deviceName: input.device.name,
    refreshToken: login.refreshToken,
    refreshTokenExpiresAt: login.refreshTokenExpiresAt,
  };
  await store.save(creds);
  return AuthSession.fromLogin({ ...options, store }, creds, login);
}

/**
 * Signs the stored device out (see AuthSession.signOut). `signedIn: false` when the store held
 * no credentials.
 */
export async function signOut(
  store: CredentialsStore,
  options: { http?: RelayHttpOptions } = {},
): Promise<{ signedIn: boolean; revoked: boolean; error?: import('../errors').SyncError }> {
  const session = await AuthSession.open({ store, http: options.http });
  if (!session) return { signedIn: false, revoked: false };
  return { signedIn: true, ...(await session.signOut()) };
}
