/**
 * `roo-sync user add <email>` (password from stdin, never from argv; while the embedded relay
 * runs and holds the data directory, through that relay's local admin route) and
 * `roo-sync user delete <email>` (removes the account with every row and blob; running relays
 * close its devices' sockets when --redis-url reaches them). `user add` may create the
 * embedded database (before the relay's first start); `user delete` needs an existing one.
 * Errors are SyncErrors: EMAIL_INVALID, PASSWORD_MISSING (stdin held no password), PASSWORD_INVALID, USER_EXISTS, USER_NOT_FOUND, DB_*.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { isSyncError, SyncError } from '../../core/errors';
import { createUser, deleteAccount, findUserByEmail, normaliseEmail } from '../../server/accounts/users';
import { writeAudit } from '../../server/auth/audit-log';
import { checkNewPassword } from '../../server/auth/passwords';
import { ADMIN_ACCESS_FILE, ADMIN_USERS_PATH, readAdminAccess } from '../../server/http/admin-access';
import { noteWriter, readSecretFromStdin, withAdmin, withAdminConnection, writer, type AdminConnectionOptions, type AdminDeps } from './admin-connection';

/**
 * Creates the account through the relay that holds the embedded data directory: its admin
 * route, with the token it wrote into that directory (server/http/admin-access.ts). The lock's
 * error stands when no such relay answers.
 */
async function addThroughRelay(
  locked: SyncError,
  dataDir: string,
  body: { email: string; password: string; displayName?: string },
): Promise<{ userId: string; email: string; url: string }> {
  const access = readAdminAccess(dataDir);
  const holder = locked.details?.pid;
  if (!access || (typeof holder === 'number' && access.pid !== holder)) {
    throw new SyncError('DB_DATA_DIR_LOCKED', `${inUse(locked, dataDir)}, which is not a relay this command can reach (no ${ADMIN_ACCESS_FILE} of it): stop it and run this again`, locked.details);
  }
  let res: Response;
  try {
    res = await fetch(`${access.url}${ADMIN_USERS_PATH}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${access.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  } catch (err) {
    throw new SyncError('DB_DATA_DIR_LOCKED', `${inUse(locked, dataDir)}; its relay did not answer at ${access.url} (${(err as Error).message})`, locked.details);
  }
  const answer = (await res.json().catch(() => ({}))) as { userId?: string; email?: string; error?: { code?: string; message?: string } };
  if (!res.ok || !answer.userId || !answer.email) {
    throw new SyncError(answer.error?.code ?? 'INTERNAL', answer.error?.message ?? `the relay answered ${res.status}`, { status: res.status });
  }
  return { userId: answer.userId, email: answer.email, url: access.url };
}

/** "the data directory D is in use by process N", from the lock's error. */
function inUse(locked: SyncError, dataDir: string): string {
  const pid = locked.details?.pid;
  return `the data directory ${dataDir} is in use by ${typeof pid === 'number' ? `process ${pid}` : 'another process'}`;
}

export function registerUserCommands(program: Command, deps: AdminDeps = {}): void {
  const user = program.command('user').description('Create and delete relay accounts (administrator)');

  withAdminConnection(
    user
      .command('add')
      .description('Create an account; the password is read from stdin (a prompt without echo on a terminal)')
      .argument('<email>', 'the account email')
      .addOption(new Option('--password-stdin', 'read the password from stdin (the default; kept for scripts that say so)'))
      .addOption(new Option('--display-name <name>', 'shown in the extension')),
  ).action(async (email: string, options: AdminConnectionOptions & { displayName?: string }, cmd: Command) => {
    const address = normaliseEmail(email);
    const password = await (deps.readSecret ?? readSecretFromStdin)('Password: ');
    if (password === '') {
      throw new SyncError('PASSWORD_MISSING', "stdin held no password: pipe one in (printf '%s\\n' \"$PW\" | roo-sync user add EMAIL), or run on a terminal to be asked for it");
    }
    // Refused before any database is opened (or made).
    checkNewPassword(password);
    // The embedded database this creates the account in (null: PostgreSQL), and whether it is new.
    const embedded = options.databaseUrl ? null : resolve(options.dataDir);
    const fresh = embedded !== null && !existsSync(embedded);
    try {
      await withAdmin(deps, options, cmd, async ({ db, out }) => {
        const created = await createUser(db, { email: address, password, displayName: options.displayName });
        await writeAudit(db, { action: 'account.create', userId: created.id, metadata: { by: 'cli' } });
        out(`created user ${created.email} (${created.id})${embedded ? ` in the embedded database at ${embedded}` : ''}`);
      });
    } catch (err) {
      // The embedded relay holds the data directory: create the account through it.
      if (!isSyncError(err, 'DB_DATA_DIR_LOCKED') || options.databaseUrl) throw err;
      const created = await addThroughRelay(err, options.dataDir, { email: address, password, displayName: options.displayName });
      writer(cmd)(`created user ${created.email} (${created.userId}) through the running relay at ${created.url}`);
    } finally {
      // A relay started from another folder keeps its data there: say that this one is new, even
      // when the account then failed (the folder stays, and a rerun would not say it again).
      if (fresh && existsSync(embedded)) {
        noteWriter(cmd)(`${embedded} held no database, so a new one was made there. A relay started from another folder keeps its own: run this in the folder where \`npm start\` runs, or pass --data-dir.`);
      }
    }
  });

  withAdminConnection(
    user.command('delete').description('Delete an account with every row and blob it owns').argument('<email>', 'the account email'),
    { revokes: true, mustExist: true },
  ).action(async (email: string, options: AdminConnectionOptions, cmd: Command) => {
    await withAdmin(deps, options, cmd, async ({ db, sessions, out }) => {
      const found = await findUserByEmail(db, email);
      if (!found) throw new SyncError('USER_NOT_FOUND', 'no user with this email');
      const deleted = await deleteAccount(db, found.id);
      await sessions.forget(deleted.accessHashes);
      await sessions.announceRevoked(deleted.deviceIds);
      await writeAudit(db, { action: 'account.deleted', metadata: { by: 'cli', devices: deleted.deviceIds.length } });
      out(`deleted user ${found.email} and ${deleted.deviceIds.length} device(s)`);
    });
  });
}
