/**
 * The page's HTTP side: sign-in through the relay's web routes (the refresh token stays in an
 * HttpOnly cookie the page never sees; the access token only in this object's memory), and
 * the read routes it needs, each with the current access token (renewed from the cookie
 * shortly before it expires, and once more when the relay says it is no longer valid).
 * Errors are the relay's own `{ error: { code, message } }`, thrown as SyncError with the
 * relay's code (details.status: the HTTP status).
 */

import { SyncError } from '../../../core/errors';

/** The HTTP status of a relay error (details.status), or undefined for another error. */
export function statusOf(error: unknown): number | undefined {
  return error instanceof SyncError && typeof error.details?.status === 'number' ? error.details.status : undefined;
}

export interface WebSession {
  userId: string;
  deviceId: string;
  accessToken: string;
  accessTokenExpiresAt: string;
}

export interface TaskSummary {
  source: string;
  taskId: string;
  deviceId: string;
  seq: number;
  ts: number;
  meta: Record<string, unknown>;
}

export interface TaskPage {
  tasks: TaskSummary[];
  total: number;
  nextCursor?: string;
}

export interface MessageView {
  key: string;
  hash: string;
  seq: number;
  entry: unknown;
}

export interface MessagePage {
  messages: MessageView[];
  nextBefore?: string;
}

export interface Device {
  id: string;
  name: string;
  kind: string | null;
  platform: string | null;
  createdAt: string;
  lastSeenAt: string | null;
  revokedAt: string | null;
  current: boolean;
}

export interface TaskQuery {
  q?: string;
  source?: string;
  device?: string;
  cursor?: string;
  limit?: number;
}

/** Renew the access token this long before it expires. */
const RENEW_MARGIN_MS = 60_000;

export class RelayApi {
  private session: WebSession | null = null;
  private renewing: Promise<WebSession> | null = null;
  private readonly signedOutListeners = new Set<() => void>();

  get current(): WebSession | null {
    return this.session;
  }

  /** Called when the relay refuses the session (revoked, expired): the page shows sign-in. */
  onSignedOut(listener: () => void): () => void {
    this.signedOutListeners.add(listener);
    return () => this.signedOutListeners.delete(listener);
  }

  async login(email: string, password: string): Promise<WebSession> {
    this.session = await post<WebSession>('/v1/auth/web/login', { email, password });
    return this.session;
  }

  /** Picks up the browser's session from its cookie; null when it has none (or it was refused). */
  async restore(): Promise<WebSession | null> {
    try {
      return await this.renew();
    } catch (error) {
      if (statusOf(error) === 401) return null;
      throw error;
    }
  }

  /** Revokes this browser's device and forgets the session. */
  async logout(): Promise<void> {
    const session = this.session;
    this.session = null;
    await fetch('/v1/auth/web/logout', {
      method: 'POST',
      credentials: 'same-origin',
      headers: session ? { authorization: `Bearer ${session.accessToken}` } : {},
    });
  }

  /** A valid access token (renewed from the cookie when it is about to expire). */
  async accessToken(): Promise<string> {
    const session = this.session;
    if (session && Date.parse(session.accessTokenExpiresAt) - Date.now() > RENEW_MARGIN_MS) return session.accessToken;
    return (await this.renew()).accessToken;
  }

  listTasks(query: TaskQuery): Promise<TaskPage> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(key, String(value));
    return this.get<TaskPage>(`/v1/tasks?${params}`);
  }

  getTask(source: string, taskId: string): Promise<TaskSummary> {
    return this.get<TaskSummary>(`/v1/tasks/${encodeURIComponent(source)}/${encodeURIComponent(taskId)}`);
  }

  listMessages(source: string, taskId: string, options: { before?: string; limit?: number } = {}): Promise<MessagePage> {
    const params = new URLSearchParams({ stream: 'ui', limit: String(options.limit ?? 200) });
    if (options.before) params.set('before', options.before);
    return this.get<MessagePage>(`/v1/tasks/${encodeURIComponent(source)}/${encodeURIComponent(taskId)}/messages?${params}`);
  }

  async listDevices(): Promise<Device[]> {
    return (await this.get<{ devices: Device[] }>('/v1/devices')).devices;
  }

  /** Signs another of the user's devices out (a lost laptop): its tokens stop working at once. */
  async revokeDevice(deviceId: string): Promise<void> {
    await this.send('DELETE', `/v1/devices/${encodeURIComponent(deviceId)}`);
  }

  private renew(): Promise<WebSession> {
    this.renewing ??= post<WebSession>('/v1/auth/web/refresh', undefined)
      .then((session) => {
        this.session = session;
        return session;
      })
      .catch((error: unknown) => {
        if (statusOf(error) === 401 && this.session) {
          this.session = null;
          for (const listener of this.signedOutListeners) listener();
        }
        throw error;
      })
      .finally(() => {
        this.renewing = null;
      });
    return this.renewing;
  }

  private get<T>(path: string): Promise<T> {
    return this.send<T>('GET', path);
  }

  private async send<T>(method: 'GET' | 'DELETE', path: string): Promise<T> {
    const attempt = async (token: string) => fetch(path, { method, headers: { authorization: `Bearer ${token}` }, credentials: 'same-origin' });
    let res = await attempt(await this.accessToken());
    if (res.status === 401) res = await attempt((await this.renew()).accessToken);
    return readJson<T>(res);
  }
}

async function post<T>(path: string, body: unknown): Promise<T> {
  const res = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return readJson<T>(res);
}

async function readJson<T>(res: Response): Promise<T> {
  const text = await res.text();
  let value: unknown;
  try {
    value = text ? JSON.parse(text) : undefined;
  } catch {
    throw new SyncError('RELAY_RESPONSE_INVALID', `the relay answered ${res.status} with something that is not JSON`, { status: res.status });
  }
  if (!res.ok) {
    const error = (value as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new SyncError(error?.code ?? 'RELAY_RESPONSE_INVALID', error?.message ?? `the relay answered ${res.status}`, { status: res.status });
  }
  return value as T;
}
