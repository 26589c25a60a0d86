/**
 * `roo-sync user list [--json]` (administrator): every account of the relay's database, with
 * its active devices. Same database options as `user add/delete`.
 */
import { Command } from 'commander';
import { listUsers } from '../../server/accounts/user-list';
import { withAdmin, withAdminConnection, type AdminConnectionOptions, type AdminDeps } from './admin-connection';

/** Adds `list` to the `user` command registerUserCommands made (creating it when absent). */
export function registerUserListCommand(program: Command, deps: AdminDeps = {}): void {
  const user = program.commands.find((c) => c.name() === 'user') ?? program.command('user').description('Create, list and delete relay accounts (administrator)');
  withAdminConnection(user.command('list').description('List the accounts').option('--json', 'print JSON'), { mustExist: true }).action(
    async (options: AdminConnectionOptions & { json?: boolean }, cmd: Command) => {
      await withAdmin(deps, options, cmd, async ({ db, out }) => {
        const users = await listUsers(db);
        if (options.json) {
          out(JSON.stringify(users, null, 2));
          return;
        }
        if (users.length === 0) {
          out('no users (create one with "roo-sync user add <email>")');
          return;
        }
        out(['EMAIL'.padEnd(32), 'ROLE'.padEnd(6), 'DEVICES', 'CREATED'.padEnd(24), 'STATE'].join('  '));
        for (const u of users) {
          out([u.email.slice(0, 32).padEnd(32), u.role.padEnd(6), String(u.devices).padStart(7), u.createdAt.padEnd(24), u.disabledAt ? 'disabled' : 'active'].join('  '));
        }
      });
    },
  );
}
