/**
 * `roo-sync user add <email>` (password from stdin, never from argv) and
 * `roo-sync user delete <email>` (removes the account with every row and blob; running relays
 * close its devices' sockets when --redis-url reaches them). `user add` may create the
 * embedded database (before the relay's first start); `user delete` needs an existing one.
 * Errors are SyncErrors: EMAIL_INVALID, PASSWORD_MISSING (stdin held no password), PASSWORD_INVALID, USER_EXISTS, USER_NOT_FOUND, DB_*.
 */
import { Command, Option } from 'commander';
import { SyncError } from '../../core/errors';
import { createUser, deleteAccount, findUserByEmail, normaliseEmail } from '../../server/accounts/users';
import { writeAudit } from '../../server/auth/audit-log';
import { readSecretFromStdin, withAdmin, withAdminConnection, type AdminConnectionOptions, type AdminDeps } from './admin-connection';

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
    await withAdmin(deps, options, cmd, async ({ db, out }) => {
      const created = await createUser(db, { email: address, password, displayName: options.displayName });
      await writeAudit(db, { action: 'account.create', userId: created.id, metadata: { by: 'cli' } });
      out(`created user ${created.email} (${created.id})`);
    });
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
