/**
 * Sign-in for the relay's own web page (docs/server.md "The web page"): the browser becomes a
 * device of kind `web`. Its refresh token never reaches page script: it lives in an HttpOnly,
 * SameSite=Strict cookie scoped to `/v1/auth/web` (Secure when the page is served over TLS,
 * directly or behind a trusted proxy that says so in X-Forwarded-Proto). The access token is
 * returned in the body and kept in the page's memory only.
 *
 * POST /v1/auth/web/login   { email, password, deviceName? } -> access token, sets the cookie
 * POST /v1/auth/web/refresh (cookie)                         -> access token, rotates the cookie
 * POST /v1/auth/web/logout  (cookie, or a bearer token)      -> revokes the device, clears the cookie
 *
 * CSRF: the cookie is SameSite=Strict, so a cross-site page cannot send it; on top of that
 * every route here wants an `Origin` equal to the relay's own origin (browsers always send it
 * on a POST from script) and refuses anything else with 403 ORIGIN_REFUSED, and wants a JSON
 * body (a cross-site form cannot send `application/json` without a CORS preflight, which the
 * relay never grants). Login rate limits and auditing are the AuthService's, as for any device.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { SyncError } from '../../core/errors';
import type { LoginResult } from '../auth/auth-service';
import { authenticate, clientInfoOf } from './auth-routes';
import { sendJson } from './http-errors';
import type { HttpContext } from './http-context';
import type { ProxyTrust } from './trusted-proxies';
import { BodyFields, readJsonBody } from './request-body';
import type { Router } from './router';

export const WEB_AUTH_PATH = '/v1/auth/web';
/** The refresh-token cookie of the web page. `__Host-` needs Secure and Path=/, so a plain name. */
export const WEB_REFRESH_COOKIE = 'roo_sync_web_refresh';

/** What the page gets back: the access token stays in its memory; the refresh token is only in the cookie. */
export interface WebSession {
  userId: string;
  deviceId: string;
  accessToken: string;
  accessTokenExpiresAt: string;
}

export function registerWebAuthRoutes(router: Router, ctx: HttpContext): void {
  router.add('POST', `${WEB_AUTH_PATH}/login`, async ({ req, res }) => {
    const secure = assertSameOrigin(req, ctx.trustProxy);
    const fields = new BodyFields(await readJsonBody(req, ctx.config.http.maxBodyBytes));
    const email = fields.string('email', 254);
    const password = fields.string('password', 1024);
    const deviceName = fields.optionalString('deviceName', 200) ?? browserName(req.headers['user-agent']);
    const result = await ctx.auth.login(
      { email, password, device: { name: deviceName, kind: 'web', platform: 'browser' } },
      clientInfoOf(req, ctx.trustProxy),
    );
    sendSession(res, result, secure);
  });

  router.add('POST', `${WEB_AUTH_PATH}/refresh`, async ({ req, res }) => {
    const secure = assertSameOrigin(req, ctx.trustProxy);
    const token = readCookie(req.headers.cookie, WEB_REFRESH_COOKIE);
    if (!token) throw new SyncError('AUTH_REQUIRED', 'not signed in on this browser');
    let result: LoginResult;
    try {
      result = await ctx.auth.refresh(token, clientInfoOf(req, ctx.trustProxy));
    } catch (err) {
      // A refused refresh token is never good again: drop it from the browser with the answer.
      res.setHeader('set-cookie', clearedCookie(secure));
      throw err;
    }
    sendSession(res, result, secure);
  });

  router.add('POST', `${WEB_AUTH_PATH}/logout`, async ({ req, res }) => {
    const secure = assertSameOrigin(req, ctx.trustProxy);
    res.setHeader('set-cookie', clearedCookie(secure));
    if (req.headers.authorization) {
      const device = await authenticate(ctx, req);
      await ctx.auth.logout(device.userId, device.deviceId, clientInfoOf(req, ctx.trustProxy));
    } else {
      // The page lost its access token (reloaded): the cookie's session names the device.
      const token = readCookie(req.headers.cookie, WEB_REFRESH_COOKIE);
      if (token) {
        const session = await ctx.auth.refresh(token, clientInfoOf(req, ctx.trustProxy)).catch(() => undefined);
        if (session) await ctx.auth.logout(session.userId, session.deviceId, clientInfoOf(req, ctx.trustProxy));
      }
    }
    res.writeHead(204).end();
  });
}

function sendSession(res: ServerResponse, result: LoginResult, secure: boolean): void {
  const maxAge = Math.max(0, Math.floor((Date.parse(result.refreshTokenExpiresAt) - Date.now()) / 1000));
  const session: WebSession = {
    userId: result.userId,
    deviceId: result.deviceId,
    accessToken: result.accessToken,
    accessTokenExpiresAt: result.accessTokenExpiresAt,
  };
  sendJson(res, 200, session, { 'set-cookie': refreshCookie(result.refreshToken, maxAge, secure) });
}

/** The Set-Cookie value carrying a refresh token. */
export function refreshCookie(token: string, maxAgeSeconds: number, secure: boolean): string {
  return `${WEB_REFRESH_COOKIE}=${token}; Path=${WEB_AUTH_PATH}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

function clearedCookie(secure: boolean): string {
  return refreshCookie('', 0, secure);
}

/** One cookie's value from a Cookie header, or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

/** True when the browser reached the relay over TLS (directly, or through a trusted proxy that says so). */
export function isSecureRequest(req: IncomingMessage, trustProxy: ProxyTrust): boolean {
  if ((req.socket as TLSSocket).encrypted) return true;
  if (!fromTrustedProxy(req, trustProxy)) return false;
  const proto = req.headers['x-forwarded-proto'];
  return typeof proto === 'string' && proto.split(',')[0]!.trim().toLowerCase() === 'https';
}

/**
 * Refuses a request whose Origin is missing or is not the relay's own origin (ORIGIN_REFUSED),
 * or that a browser marks as cross-site (Sec-Fetch-Site). Returns whether the request is secure.
 */
export function assertSameOrigin(req: IncomingMessage, trustProxy: ProxyTrust): boolean {
  const secure = isSecureRequest(req, trustProxy);
  const origin = req.headers.origin;
  const forwardedHost = fromTrustedProxy(req, trustProxy) ? req.headers['x-forwarded-host'] : undefined;
  const host = (typeof forwardedHost === 'string' ? forwardedHost.split(',')[0]!.trim() : undefined) ?? req.headers.host;
  if (typeof origin !== 'string' || !host) throw originRefused();
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    throw originRefused();
  }
  const expectedProtocol = secure ? 'https:' : 'http:';
  if (parsed.protocol !== expectedProtocol || parsed.host.toLowerCase() !== host.toLowerCase()) throw originRefused();
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin') throw originRefused();
  return secure;
}

/** The request came straight from a reverse proxy TRUST_PROXY names: its X-Forwarded-* headers count. */
function fromTrustedProxy(req: IncomingMessage, trustProxy: ProxyTrust): boolean {
  const peer = req.socket.remoteAddress;
  return peer !== undefined && trustProxy(peer);
}

function originRefused(): SyncError {
  return new SyncError('ORIGIN_REFUSED', 'this route answers only the relay\'s own web page (Origin must be this relay)');
}

/** A readable device name from the user agent ("Chrome on Android"), for the device list. */
export function browserName(userAgent: string | undefined): string {
  const ua = userAgent ?? '';
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Windows/.test(ua) ? 'Windows' : /Mac OS X/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : '';
  return os ? `${browser} on ${os}` : browser;
}
