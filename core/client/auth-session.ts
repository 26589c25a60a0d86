/**
 * AuthSession: a signed-in device's tokens. The refresh token lives in a CredentialsStore; the
 * access token only in memory. `accessToken()` hands out a token valid for a while yet and
 * renews it silently when it is about to expire: inside the store's `exclusive` section it
 * reads the refresh token the store holds now (another process of the device may have rotated
 * it), trades it at the relay, and saves the new one before the new access token is used.
 *
 * When the relay refuses the refresh token (revoked device, expired or reused token) the
 * session ends: the stored credentials are cleared, `onSignedOut` listeners hear why, and every
 * later call fails with AUTH_SIGNED_OUT at once. There is no retry loop. An unreachable relay is
 * not a refusal: the call fails with RELAY_UNREACHABLE and the credentials stay.
 */
import { SyncError, isSyncError } from '../errors';
import type { CredentialsStore, DeviceCredentials } from '../ports/credentials-store';
import { Listeners } from './listeners';
import { RelayAuthClient, type LoginResult } from './relay-auth-client';
import type { RelayHttpOptions } from './relay-http';

/** Relay answers to a refresh that mean the refresh token is gone for good. */
const REFUSED_REFRESH_CODES: ReadonlySet<string> = new Set(['AUTH_TOKEN_INVALID', 'AUTH_REFRESH_REUSED', 'AUTH_REQUIRED', 'DEVICE_NOT_FOUND']);

export interface AuthSessionOptions {
  store: CredentialsStore;
  /** Renew when less than this is left of the access token (ms). Default 60 s, at most half its lifetime. */
  renewBeforeMs?: number;
  /** Wall clock in ms. Default Date.now. */
  now?: () => number;
  http?: RelayHttpOptions;
}

interface AccessToken {
  token: string;
  expiresAt: number;
  issuedAt: number;
}

export class AuthSession {
  private access: AccessToken | null = null;
  private renewing: Promise<string> | null = null;
  private ended: SyncError | null = null;
  private readonly now: () => number;
  private readonly signedOutListeners = new Listeners<[SyncError]>();
  private readonly tokenListeners = new Listeners<[{ expiresAt: number }]>();

  private constructor(
    private readonly options: AuthSessionOptions,
    private creds: DeviceCredentials,
    login?: LoginResult,
  ) {
    this.now = options.now ?? Date.now;
    if (login) this.access = { token: login.accessToken, expiresAt: login.accessTokenExpiresAt, issuedAt: this.now() };
  }

  /** The session of the stored credentials, or null when the store holds none (signed out). */
  static async open(options: AuthSessionOptions): Promise<AuthSession | null> {
    const creds = await options.store.load();
    return creds ? new AuthSession(options, creds) : null;
  }

  /** A session right after sign-in (its access token is used until it is due for renewal). */
  static fromLogin(options: AuthSessionOptions, creds: DeviceCredentials, login: LoginResult): AuthSession {
    return new AuthSession(options, creds, login);
  }

  /** The credentials as last loaded or saved (the refresh token included: never log them). */
  get credentials(): DeviceCredentials {
    return this.creds;
  }

  get isSignedOut(): boolean {
    return this.ended !== null;
  }

  /** When the current access token expires (ms since epoch), or null when none is held. */
  get accessTokenExpiresAt(): number | null {
    return this.access?.expiresAt ?? null;
  }

  /** Called once when the session ends: the relay refused the refresh token, or signOut (the credentials are cleared by then). */
  onSignedOut(listener: (reason: SyncError) => void): () => void {
    return this.signedOutListeners.add(listener);
  }

  /** Called after every renewal (a live socket should re-authenticate with the new token). */
  onRenewed(listener: (token: { expiresAt: number }) => void): () => void {
    return this.tokenListeners.add(listener);
  }

  /** When the next renewal is due (ms since epoch), or null when no token is held. */
  renewalDueAt(): number | null {
    if (!this.access) return null;
    return this.access.expiresAt - this.renewMargin(this.access);
  }

  /** An access token that is not about to expire; renews it first when needed (single flight). */
  async accessToken(): Promise<string> {
    if (this.ended) throw this.ended;
    const access = this.access;
    if (access && this.now() < access.expiresAt - this.renewMargin(access)) return access.token;
    return this.renew();
  }

  /** Renews now, whatever is left of the current token. */
  renew(): Promise<string> {
    if (this.ended) return Promise.reject(this.ended);
    this.renewing ??= this.options.store
      .exclusive(() => this.refreshLocked())
      .finally(() => {
        this.renewing = null;
      });
    return this.renewing;
  }

  /**
   * Signs this device out: revokes it on the relay (its tokens stop working, its sockets close),
   * then clears the stored credentials. Offline, the credentials are cleared all the same and
   * `revoked` is false (the device stays registered until revoked from another device).
   */
  async signOut(): Promise<{ revoked: boolean; error?: SyncError }> {
    let revoked = false;
    let error: SyncError | undefined;
    try {
      const token = await this.accessToken();
      await new RelayAuthClient(this.creds.serverUrl, this.options.http).logout(token);
      revoked = true;
    } catch (err) {
      if (!(err instanceof SyncError)) throw err;
      // A refused refresh token means the relay already forgot this device: revoked in effect.
      if (REFUSED_REFRESH_CODES.has(err.code) || err.code === 'AUTH_SIGNED_OUT') revoked = true;
      else error = err;
    }
    await this.options.store.clear();
    this.end(new SyncError('AUTH_SIGNED_OUT', 'signed out on this device'));
    return error ? { revoked, error } : { revoked };
  }

  private renewMargin(access: AccessToken): number {
    const lifetime = Math.max(0, access.expiresAt - access.issuedAt);
    return Math.min(this.options.renewBeforeMs ?? 60_000, lifetime / 2);
  }

  private async refreshLocked(): Promise<string> {
    const stored = await this.options.store.load();
    if (!stored) {
      this.end(new SyncError('AUTH_SIGNED_OUT', 'signed out: the stored credentials are gone'));
      throw this.ended!;
    }
    this.creds = stored;
    let result: LoginResult;
    try {
      result = await new RelayAuthClient(stored.serverUrl, this.options.http).refresh(stored.refreshToken);
    } catch (err) {
      if (isSyncError(err) && REFUSED_REFRESH_CODES.has(err.code)) {
        await this.options.store.clear();
        this.end(new SyncError('AUTH_SIGNED_OUT', `signed out: the relay refused this device's refresh token (${err.code})`, { cause: err.code }));
        throw this.ended!;
      }
      throw err;
    }
    this.creds = { ...stored, refreshToken: result.refreshToken, refreshTokenExpiresAt: result.refreshTokenExpiresAt };
    // Saved before the new access token is used: a crash now loses nothing the relay expects.
    await this.options.store.save(this.creds);
    this.access = { token: result.accessToken, expiresAt: result.accessTokenExpiresAt, issuedAt: this.now() };
    this.tokenListeners.emit({ expiresAt: result.accessTokenExpiresAt });
    return result.accessToken;
  }

  private end(reason: SyncError): void {
    if (this.ended) return;
    this.ended = reason;
    this.access = null;
    this.signedOutListeners.emit(reason);
  }
}
