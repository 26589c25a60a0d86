/**
 * `roo-sync devices [--json]`: the signed-in user's devices as the relay lists them (name,
 * kind, platform, last seen, this machine, signed out); `roo-sync devices sign-out <device>`
 * signs one of the others out (a lost laptop), by id or by its unique name. Through the relay
 * (`GET /v1/devices`, `DELETE /v1/devices/:id`), so it works on any machine signed in, unlike
 * the administrator's `roo-sync device list/revoke`, which opens the relay's database.
 */
import { Command } from 'commander';
import { RelayAuthClient, type RelayDevice } from '../../core/client/relay-auth-client';
import { SyncError } from '../../core/errors';
import { outputFor, withExitCodesHelp } from '../cli-output';
import { openCliSession } from '../cli-session';

export function registerDevicesCommand(program: Command): void {
  const devices = withExitCodesHelp(
    program
      .command('devices')
      .description('List the devices of your account (through the relay); "devices sign-out DEVICE" signs one of them out')
      .option('--json', 'print the result as JSON'),
  ).action(async (options: { json?: boolean }, cmd: Command) => {
    const out = outputFor(cmd, !!options.json);
    const { auth, credentials } = await openCliSession();
    const list = await new RelayAuthClient(credentials.serverUrl).listDevices(await auth.accessToken());
    out.result({ devices: list }, () => (list.length === 0 ? ['no devices'] : list.map(describeDevice)));
  });

  withExitCodesHelp(
    devices
      .command('sign-out')
      .description('Sign one of your other devices out (revoke it on the relay): it stops syncing at once and must sign in again')
      .argument('<device>', 'the device id, or its name when no other device has it')
      .option('--json', 'print the result as JSON'),
  ).action(async (selector: string, options: { json?: boolean }, cmd: Command) => {
    // `--json` after the sub-command may be taken by `devices`' own --json: either counts.
    const out = outputFor(cmd, !!(options.json || cmd.parent?.opts<{ json?: boolean }>().json));
    const { auth, credentials } = await openCliSession();
    const relay = new RelayAuthClient(credentials.serverUrl);
    const device = pickDevice(await relay.listDevices(await auth.accessToken()), selector);
    if (device.current) throw new SyncError('CLI_USAGE', `"${device.name}" is this machine: run "roo-sync logout" to sign it out`);
    if (device.revokedAt) {
      out.result({ deviceId: device.id, name: device.name, revoked: false, alreadySignedOut: true }, () => [`"${device.name}" (${device.id}) was already signed out`]);
      return;
    }
    await relay.revokeDevice(await auth.accessToken(), device.id);
    out.result({ deviceId: device.id, name: device.name, revoked: true }, () => [`signed out "${device.name}" (${device.id}): it stops syncing and must sign in again`]);
  });
}

/**
 * The device `selector` names: its id; else the one other signed-in device with that name (this
 * machine does not count: it is never the target); else this machine, or one already signed out,
 * by that name. DEVICE_NOT_FOUND when none has it; CLI_USAGE when several other devices share it.
 */
function pickDevice(devices: readonly RelayDevice[], selector: string): RelayDevice {
  const byId = devices.find((d) => d.id === selector);
  if (byId) return byId;
  const named = devices.filter((d) => d.name === selector);
  const others = named.filter((d) => !d.current && !d.revokedAt);
  if (others.length === 1) return others[0]!;
  if (others.length > 1) {
    throw new SyncError('CLI_USAGE', `${others.length} devices are named "${selector}": give the id (${others.map((d) => d.id).join(', ')})`, { selector });
  }
  const fallback = named.find((d) => d.current) ?? named.find((d) => d.revokedAt);
  if (fallback) return fallback;
  throw new SyncError('DEVICE_NOT_FOUND', `no device of yours is named or numbered "${selector}" (see "roo-sync devices")`, { selector });
}

function describeDevice(d: RelayDevice): string {
  const state = d.revokedAt ? `signed out ${d.revokedAt}` : d.lastSeenAt ? `last seen ${d.lastSeenAt}` : 'never seen';
  const what = [d.kind ?? 'device', d.platform].filter(Boolean).join(', ');
  return `${d.current ? '* ' : '  '}${d.name}  (${what})  ${d.id}  ${state}${d.current ? '  (this machine)' : ''}`;
}
