/**
 * Account and session endpoints:
 * POST /v1/auth/login, POST /v1/auth/refresh, POST /v1/auth/logout, POST /v1/users (sign-up,
 * only with --allow-signup), GET /v1/devices, DELETE /v1/devices/:id, DELETE /v1/account.
 */
import type { IncomingMessage } from 'node:http';
import { SyncError } from '../../core/errors';
import { DEVICE_KINDS } from '../accounts/devices';
import { createUser, deleteAccount } from '../accounts/users';
import type { AuthenticatedDevice } from '../auth/access-tokens';
import { writeAudit, type ClientInfo } from '../auth/audit-log';
import { ACCOUNT_DELETE_ACTION } from '../auth/login-rate-limit';
import { sendJson } from './http-errors';
import type { HttpContext } from './http-context';
import { BodyFields, readJsonBody } from './request-body';
import type { RequestContext, Router } from './router';
import { clientAddress, type ProxyTrust } from './trusted-proxies';

/** The device behind the request's bearer token; AUTH_REQUIRED without one, AUTH_TOKEN_INVALID when it is not valid. */
export async function authenticate(ctx: HttpContext, req: IncomingMessage): Promise<AuthenticatedDevice> {
  const header = req.headers.authorization;
  if (!header) throw new SyncError('AUTH_REQUIRED', 'send Authorization: Bearer <access token>');
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new SyncError('AUTH_TOKEN_INVALID', 'the token is invalid, expired or revoked');
  const device = await ctx.sessions.validateAccessToken(match[1]!);
  if (!device) throw new SyncError('AUTH_TOKEN_INVALID', 'the token is invalid, expired or revoked');
  return device;
}

/** The caller's address (for audit rows and the per-address rate limit) and user agent. */
export function clientInfoOf(req: IncomingMessage, trusted: ProxyTrust = () => false): ClientInfo {
  const agent = req.headers['user-agent'];
  const ip = clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], trusted);
  return { ip, userAgent: typeof agent === 'string' ? agent : null };
}

export function registerAuthRoutes(router: Router, ctx: HttpContext): void {
  const clientInfo = (req: IncomingMessage): ClientInfo => clientInfoOf(req, ctx.trustProxy);
  const body = (req: IncomingMessage): Promise<BodyFields> => readJsonBody(req, ctx.config.http.maxBodyBytes).then((b) => new BodyFields(b));

  router.add('POST', '/v1/auth/login', async ({ req, res }: RequestContext) => {
    const fields = await body(req);
    const email = fields.string('email', 254);
    const password = fields.string('password', 1024);
    const device = fields.optionalObject('device');
    const kind = device?.optionalString('kind', 32);
    if (kind !== undefined && !(DEVICE_KINDS as readonly string[]).includes(kind)) {
      throw new SyncError('REQUEST_INVALID', `device.kind must be one of ${DEVICE_KINDS.join(', ')}`, { field: 'device.kind' });
    }
    const result = await ctx.auth.login(
      {
        email,
        password,
        device: {
          name: device?.optionalString('name', 200) ?? 'unnamed device',
          kind,
          platform: device?.optionalString('platform', 100),
          clientVersion: device?.optionalString('clientVersion', 100),
        },
      },
      clientInfo(req),
    );
    sendJson(res, 200, result);
  });

  router.add('POST', '/v1/auth/refresh', async ({ req, res }) => {
    const fields = await body(req);
    const result = await ctx.auth.refresh(fields.string('refreshToken', 256), clientInfo(req));
    sendJson(res, 200, result);
  });

  router.add('POST', '/v1/auth/logout', async ({ req, res }) => {
    const device = await authenticate(ctx, req);
    await ctx.auth.logout(device.userId, device.deviceId, clientInfo(req));
    res.writeHead(204).end();
  });

  router.add('POST', '/v1/users', async ({ req, res }) => {
    if (!ctx.allowSignup) throw new SyncError('SIGNUP_DISABLED', 'accounts are created by the relay administrator');
    const fields = await body(req);
    const user = await createUser(ctx.db, {
      email: fields.string('email', 254),
      password: fields.string('password', 1024),
      displayName: fields.optionalString('displayName', 200),
    });
    await writeAudit(ctx.db, { action: 'account.signup', userId: user.id, ...clientInfo(req) }, ctx.logger);
    sendJson(res, 201, { userId: user.id, email: user.email });
  });

  router.add('GET', '/v1/devices', async ({ req, res }) => {
    const device = await authenticate(ctx, req);
    const devices = await ctx.auth.listDevices(device.userId);
    sendJson(res, 200, { devices: devices.map((d) => ({ ...d, current: d.id === device.deviceId })) });
  });

  router.add('DELETE', '/v1/devices/:id', async ({ req, res, params }) => {
    const device = await authenticate(ctx, req);
    await ctx.auth.revokeDevice(device.userId, params.id ?? '', clientInfo(req));
    res.writeHead(204).end();
  });

  router.add('DELETE', '/v1/account', async ({ req, res }) => {
    const device = await authenticate(ctx, req);
    const fields = await body(req);
    const password = fields.string('password', 1024);
    // Counted in the sign-in rate limit: an access token must not allow unlimited password guesses.
    await ctx.auth.confirmPassword(device.userId, device.deviceId, password, ACCOUNT_DELETE_ACTION, clientInfo(req));
    const deleted = await deleteAccount(ctx.db, device.userId);
    await ctx.sessions.forget(deleted.accessHashes);
    await ctx.sessions.announceRevoked(deleted.deviceIds);
    await writeAudit(ctx.db, { action: 'account.deleted', ...clientInfo(req), metadata: { devices: deleted.deviceIds.length } }, ctx.logger);
    res.writeHead(204).end();
  });
}
