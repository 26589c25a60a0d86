/**
 * `roo-sync device list <email>` and `roo-sync device revoke <device id>` (administrator).
 * Revoking ends the device's sessions; running relays close its sockets at once when
 * --redis-url reaches them (else when their session cache lapses). Errors: USER_NOT_FOUND,
 * DEVICE_NOT_FOUND, DB_*.
 */
import { Command } from 'commander';
import { SyncError } from '../../core/errors';
import { deviceNotFound, isUuid, listDevices, revokeDeviceRows } from '../../server/accounts/devices';
import { findUserByEmail } from '../../server/accounts/users';
import { writeAudit } from '../../server/auth/audit-log';
import { withAdmin, withAdminConnection, type AdminConnectionOptions, type AdminDeps } from './admin-connection';

export function registerDeviceCommands(program: Command, deps: AdminDeps = {}): void {
  const device = program.command('device').description("List and revoke a user's devices (administrator)");

  withAdminConnection(
    device.command('list').description("List a user's devices").argument('<email>', 'the account email').option('--json', 'print JSON'),
    { mustExist: true },
  ).action(async (email: string, options: AdminConnectionOptions & { json?: boolean }, cmd: Command) => {
    await withAdmin(deps, options, cmd, async ({ db, out }) => {
      const user = await findUserByEmail(db, email);
      if (!user) throw new SyncError('USER_NOT_FOUND', 'no user with this email');
      const devices = await listDevices(db, user.id);
      if (options.json) {
        out(JSON.stringify(devices, null, 2));
        return;
      }
      if (devices.length === 0) {
        out(`no devices for ${user.email}`);
        return;
      }
      out(['ID'.padEnd(36), 'NAME'.padEnd(24), 'KIND'.padEnd(8), 'LAST SEEN'.padEnd(24), 'STATE'].join('  '));
      for (const d of devices) {
        out([d.id, d.name.slice(0, 24).padEnd(24), (d.kind ?? '-').padEnd(8), (d.lastSeenAt ?? '-').padEnd(24), d.revokedAt ? 'revoked' : 'active'].join('  '));
      }
    });
  });

  withAdminConnection(
    device.command('revoke').description('Revoke a device: its tokens stop working and its sockets close').argument('<id>', 'the device id'),
    { revokes: true, mustExist: true },
  ).action(async (id: string, options: AdminConnectionOptions, cmd: Command) => {
    await withAdmin(deps, options, cmd, async ({ db, sessions, out }) => {
      if (!isUuid(id)) throw deviceNotFound();
      const { rows } = await db.query<{ user_id: string }>('SELECT user_id FROM devices WHERE id = $1', [id]);
      const owner = rows[0];
      if (!owner) throw deviceNotFound();
      const { accessHashes } = await db.transaction((tx) => revokeDeviceRows(tx, owner.user_id, id, 'revoked'));
      await sessions.forget(accessHashes);
      await sessions.announceRevoked([id]);
      await writeAudit(db, { action: 'device.revoke', userId: owner.user_id, deviceId: id, metadata: { by: 'cli' } });
      out(`revoked device ${id}`);
    });
  });
}
