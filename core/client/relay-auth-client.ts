/**
 * The relay's account and session routes (docs/server.md "HTTP endpoints"): sign-in, token
 * refresh with rotation, sign-out, and the user's device list. Stateless: the caller keeps
 * the tokens (AuthSession does, for a device).
 */
import { RelayHttp, type RelayHttpOptions } from './relay-http';

/** What a device tells the relay about itself at sign-in. */
export interface DeviceDescription {
  name: string;
  /** vscode, cli, server, mobile, browser, other. */
  kind: string;
  platform?: string;
  clientVersion?: string;
}

/** A fresh token pair (expiry times in ms since epoch). */
export interface SessionTokens {
  accessToken: string;
  accessTokenExpiresAt: number;
  refreshToken: string;
  refreshTokenExpiresAt: number;
}

export interface LoginResult extends SessionTokens {
  userId: string;
  deviceId: string;
}

/** One of the user's devices as the relay lists it. */
export interface RelayDevice {
  id: string;
  name: string;
  kind: string | null;
  platform: string | null;
  clientVersion: string | null;
  createdAt: string;
  lastSeenAt: string | null;
  revokedAt: string | null;
  /** True for the device whose token asked. */
  current: boolean;
}

interface WireTokens {
  userId: string;
  deviceId: string;
  accessToken: string;
  accessTokenExpiresAt: string;
  refreshToken: string;
  refreshTokenExpiresAt: string;
}

export class RelayAuthClient {
  private readonly http: RelayHttp;

  constructor(serverUrl: string, options: RelayHttpOptions = {}) {
    this.http = new RelayHttp(serverUrl, options);
  }

  /** The normalised server URL. */
  get serverUrl(): string {
    return this.http.baseUrl;
  }

  /** Signs in and registers a new device (AUTH_INVALID_CREDENTIALS, AUTH_RATE_LIMITED). */
  async login(input: { email: string; password: string; device: DeviceDescription }): Promise<LoginResult> {
    return toLogin(await this.http.json<WireTokens>('POST', '/v1/auth/login', { body: input }));
  }

  /** A new token pair for the same device; the old refresh token stops working (AUTH_TOKEN_INVALID, AUTH_REFRESH_REUSED). */
  async refresh(refreshToken: string): Promise<LoginResult> {
    return toLogin(await this.http.json<WireTokens>('POST', '/v1/auth/refresh', { body: { refreshToken } }));
  }

  /** Revokes the calling device. */
  async logout(accessToken: string): Promise<void> {
    await this.http.json<void>('POST', '/v1/auth/logout', { accessToken });
  }

  async listDevices(accessToken: string): Promise<RelayDevice[]> {
    const body = await this.http.json<{ devices: RelayDevice[] }>('GET', '/v1/devices', { accessToken });
    return body.devices;
  }

  /** Revokes one of the user's devices (DEVICE_NOT_FOUND when it is not theirs). */
  async revokeDevice(accessToken: string, deviceId: string): Promise<void> {
    await this.http.json<void>('DELETE', `/v1/devices/${encodeURIComponent(deviceId)}`, { accessToken });
  }

  /** The relay's health answer (`GET /healthz`): reachable, and its version when it says. */
  async health(): Promise<{ status: string; version?: string }> {
    return this.http.json<{ status: string; version?: string }>('GET', '/healthz');
  }
}

function toLogin(wire: WireTokens): LoginResult {
  return {
    userId: wire.userId,
    deviceId: wire.deviceId,
    accessToken: wire.accessToken,
    accessTokenExpiresAt: Date.parse(wire.accessTokenExpiresAt),
    refreshToken: wire.refreshToken,
    refreshTokenExpiresAt: Date.parse(wire.refreshTokenExpiresAt),
  };
}
