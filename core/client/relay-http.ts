/**
 * The small HTTP layer every client of the relay's routes shares (auth, blobs, read model):
 * base URL handling, bearer headers, and turning the relay's `{ error: { code, message } }`
 * answers and network failures into SyncErrors with stable codes. Uses `fetch`, so it runs in
 * Node, in VS Code's extension host and in a browser.
 *
 * Codes of its own:
 * - RELAY_UNREACHABLE: the request did not reach the relay (DNS, refused, reset, timeout);
 * - RELAY_RESPONSE_INVALID: the relay answered with something that is not the expected JSON;
 * - RELAY_URL_INVALID: the server URL is not an http(s) URL.
 * Any other code is the relay's own (e.g. AUTH_INVALID_CREDENTIALS), with `status` in details.
 */
import { SyncError } from '../errors';

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface RelayHttpOptions {
  /** Default: the global fetch. */
  fetch?: FetchLike;
  /** Per-request timeout in ms. Default 30 s. */
  timeoutMs?: number;
}

/** `http(s)://host[:port][/prefix]` without a trailing slash; RELAY_URL_INVALID otherwise. */
export function normaliseServerUrl(serverUrl: string): string {
  let url: URL;
  try {
    url = new URL(serverUrl.trim());
  } catch {
    throw new SyncError('RELAY_URL_INVALID', `not a URL: ${serverUrl}`, { serverUrl });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SyncError('RELAY_URL_INVALID', `the server URL must start with http:// or https:// (got ${url.protocol})`, { serverUrl });
  }
  url.search = '';
  url.hash = '';
  return url.toString().replace(/\/+$/, '');
}

/** The relay's WebSocket sync URL for a server URL (`ws(s)://…/v1/sync`). */
export function syncUrlOf(serverUrl: string): string {
  return `${normaliseServerUrl(serverUrl).replace(/^http/, 'ws')}/v1/sync`;
}

export class RelayHttp {
  readonly baseUrl: string;
  private readonly fetchImpl: FetchLike;
  private readonly timeoutMs: number;

  constructor(serverUrl: string, options: RelayHttpOptions = {}) {
    this.baseUrl = normaliseServerUrl(serverUrl);
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Sends a request; resolves with the response when its status is 2xx, else throws its coded error. */
  async request(path: string, init: RequestInit & { accessToken?: string; okStatuses?: readonly number[] } = {}): Promise<Response> {
    const { accessToken, okStatuses, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (accessToken) headers.set('authorization', `Bearer ${accessToken}`);
    const signal = rest.signal ?? timeoutSignal(this.timeoutMs);
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.baseUrl}${path}`, { ...rest, headers, signal });
    } catch (err) {
      throw new SyncError('RELAY_UNREACHABLE', `cannot reach the relay at ${this.baseUrl}: ${describeFetchError(err)}`, { serverUrl: this.baseUrl }, { cause: err });
    }
    if (response.ok || okStatuses?.includes(response.status)) return response;
    throw await errorOf(response, this.baseUrl);
  }

  /** A JSON request and its JSON answer. */
  async json<T>(method: string, path: string, options: { body?: unknown; accessToken?: string } = {}): Promise<T> {
    const init: RequestInit & { accessToken?: string } = { method, accessToken: options.accessToken };
    if (options.body !== undefined) {
      init.body = JSON.stringify(options.body);
      init.headers = { 'content-type': 'application/json' };
    }
    const response = await this.request(path, init);
    if (response.status === 204) return undefined as T;
    return readJson<T>(response);
  }
}

/** The JSON body of a response; RELAY_RESPONSE_INVALID when it is not JSON. */
export async function readJson<T>(response: Response): Promise<T> {
  const text = await response.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new SyncError('RELAY_RESPONSE_INVALID', `the relay answered ${response.status} with a body that is not JSON`, { status: response.status });
  }
}

/** The SyncError of a non-2xx answer: the relay's own code when its body has one. */
async function errorOf(response: Response, baseUrl: string): Promise<SyncError> {
  let body: unknown;
  try {
    body = JSON.parse(await response.text());
  } catch {
    body = undefined;
  }
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const details: Record<string, unknown> = { status: response.status, serverUrl: baseUrl };
  const retryAfter = response.headers.get('retry-after');
  if (retryAfter !== null) details.retryAfterSeconds = Number(retryAfter);
  if (error && typeof error.code === 'string') {
    return new SyncError(error.code, typeof error.message === 'string' ? error.message : error.code, details);
  }
  return new SyncError('RELAY_RESPONSE_INVALID', `the relay answered ${response.status} ${response.statusText} without an error code`, details);
}

function timeoutSignal(ms: number): AbortSignal | undefined {
  return typeof AbortSignal.timeout === 'function' ? AbortSignal.timeout(ms) : undefined;
}

function describeFetchError(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (cause && typeof cause.code === 'string') return cause.code;
  if (err instanceof Error && err.name === 'TimeoutError') return 'timed out';
  return err instanceof Error ? err.message : String(err);
}
