/**
 * `roo-sync login` (registers this machine as a device; the password from stdin, never argv)
 * and `roo-sync logout` (revokes the device on the relay, then forgets the credentials; offline
 * it forgets them and says the device is still registered). Credentials go to one 0600 file
 * (cli-paths: `credentials.json` in the config folder) through core's FileCredentialsStore:
 * server URL, device id and refresh token, never the access token or the password.
 */
import { platform } from 'node:os';
import { Command, Option } from 'commander';
import { signIn, signOut } from '../../core/client/sign-in';
import { SyncError } from '../../core/errors';
import { FileCredentialsStore } from '../../core/node/credentials/file-credentials-store';
import { cliPaths } from '../cli-paths';
import { defaultDeviceName, outputFor, withExitCodesHelp } from '../cli-output';
import { readSecretFromStdin } from './admin-connection';
import { ROO_SYNC_VERSION } from '../../core/version';

export interface LoginDeps {
  readSecret?: (prompt: string) => Promise<string>;
}

export function registerLoginCommands(program: Command, deps: LoginDeps = {}): void {
  withExitCodesHelp(
    program
      .command('login')
      .description('Sign this machine in as a device of your account; the password is read from stdin (a prompt without echo on a terminal)')
      .requiredOption('--server <url>', 'the relay, e.g. https://sync.example.com')
      .requiredOption('--email <email>', 'your account email')
      .option('--device-name <name>', 'how this machine is listed among your devices (default: the host name)')
      .addOption(new Option('--password-stdin', 'read the password from stdin (the default; kept for scripts that say so)'))
      .option('--json', 'print the result as JSON'),
  ).action(async (options: { server: string; email: string; deviceName?: string; json?: boolean }, cmd: Command) => {
    const out = outputFor(cmd, !!options.json);
    const paths = cliPaths();
    const store = new FileCredentialsStore(paths.credentials);
    const existing = await store.load();
    if (existing) {
      throw new SyncError('CLI_USAGE', `already signed in as ${existing.email} on ${existing.serverUrl} (device ${existing.deviceName}); run "roo-sync logout" first`);
    }
    const password = await (deps.readSecret ?? readSecretFromStdin)('Password: ');
    if (password === '') {
      throw new SyncError('PASSWORD_MISSING', "stdin held no password: pipe one in (printf '%s\\n' \"$PW\" | roo-sync login ...), or run on a terminal to be asked for it");
    }
    const session = await signIn(
      { serverUrl: options.server, email: options.email, password, device: { name: options.deviceName ?? defaultDeviceName(), kind: 'cli', platform: platform(), clientVersion: ROO_SYNC_VERSION } },
      store,
    );
    const creds = session.credentials;
    out.result({ signedIn: true, serverUrl: creds.serverUrl, email: creds.email, deviceId: creds.deviceId, deviceName: creds.deviceName, credentials: paths.credentials }, () => [
      `signed in to ${creds.serverUrl} as ${creds.email}; this machine is device "${creds.deviceName}" (${creds.deviceId})`,
      `credentials saved in ${paths.credentials}`,
    ]);
  });

  withExitCodesHelp(
    program
      .command('logout')
      .description('Revoke this device on the relay and forget its credentials (offline: forget them; the device stays registered)')
      .option('--json', 'print the result as JSON'),
  ).action(async (options: { json?: boolean }, cmd: Command) => {
    const out = outputFor(cmd, !!options.json);
    const store = new FileCredentialsStore(cliPaths().credentials);
    const result = await signOut(store);
    out.result({ wasSignedIn: result.signedIn, revoked: result.revoked, ...(result.error ? { error: { code: result.error.code, message: result.error.message } } : {}) }, () => {
      if (!result.signedIn) return ['not signed in'];
      if (result.revoked) return ['signed out: this device is revoked on the relay and its credentials are deleted'];
      return [`signed out locally; the relay could not be told (${result.error?.code ?? 'unknown'}), so the device is still registered: revoke it from another device or with "roo-sync device revoke"`];
    });
  });
}
