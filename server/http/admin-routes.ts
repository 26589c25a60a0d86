/**
 * `POST /v1/admin/users` (see admin-access.ts): creates an account on a running embedded
 * relay, for `roo-sync user add`. Registered only when the relay wrote an access token; then
 * answered only from this machine (403 ADMIN_LOCAL_ONLY) and with that token
 * (401 ADMIN_TOKEN_INVALID). Body `{ email, password, displayName? }`; 201 `{ userId, email }`.
 */
import { SyncError } from '../../core/errors';
import { createUser } from '../accounts/users';
import { writeAudit } from '../auth/audit-log';
import { ADMIN_USERS_PATH, isLocalPeer, tokenMatches } from './admin-access';
import { sendJson } from './http-errors';
import type { HttpContext } from './http-context';
import { BodyFields, readJsonBody } from './request-body';
import type { RequestContext, Router } from './router';

export function registerAdminRoutes(router: Router, ctx: HttpContext): void {
  const token = ctx.adminToken;
  if (!token) return;
  router.add('POST', ADMIN_USERS_PATH, async ({ req, res }: RequestContext) => {
    if (!isLocalPeer(req.socket)) throw new SyncError('ADMIN_LOCAL_ONLY', 'local administration is answered only from the machine the relay runs on');
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!presented || !tokenMatches(presented, token)) {
      throw new SyncError('ADMIN_TOKEN_INVALID', "the admin token is missing or not this relay's (it is in roo-sync-admin.json in the data directory, new at every start)");
    }
    const fields = new BodyFields(await readJsonBody(req, ctx.config.http.maxBodyBytes));
    const created = await createUser(ctx.db, {
      email: fields.string('email', 254),
      password: fields.string('password', 1024),
      displayName: fields.optionalString('displayName', 200),
    });
    await writeAudit(ctx.db, { action: 'account.create', userId: created.id, metadata: { by: 'cli', via: 'relay' } });
    sendJson(res, 201, { userId: created.id, email: created.email });
  });
}
