/**
 * The signed-in device's session for the user commands: credentials from the CLI's file, an
 * AuthSession that renews the access token, and the relay's read model. CLI_NOT_SIGNED_IN
 * (exit 4) when there are no credentials.
 */
import { AuthSession } from '../core/client/auth-session';
import { TaskReadClient } from '../core/client/task-read-client';
import { SyncError } from '../core/errors';
import { FileCredentialsStore } from '../core/node/credentials/file-credentials-store';
import type { DeviceCredentials } from '../core/ports/credentials-store';
import { cliPaths, type CliPaths } from './cli-paths';

export interface CliSession {
  paths: CliPaths;
  credentialsStore: FileCredentialsStore;
  credentials: DeviceCredentials;
  auth: AuthSession;
  reader: TaskReadClient;
}

const NOT_SIGNED_IN = 'not signed in: run "roo-sync login --server URL --email EMAIL" first';

/** CLI_NOT_SIGNED_IN unless this machine has credentials: a command checks it before any other work. */
export async function requireSignedIn(): Promise<void> {
  if ((await new FileCredentialsStore(cliPaths().credentials).load()) === null) throw new SyncError('CLI_NOT_SIGNED_IN', NOT_SIGNED_IN);
}

export async function openCliSession(): Promise<CliSession> {
  const paths = cliPaths();
  const credentialsStore = new FileCredentialsStore(paths.credentials);
  const auth = await AuthSession.open({ store: credentialsStore });
  if (!auth) throw new SyncError('CLI_NOT_SIGNED_IN', NOT_SIGNED_IN);
  const credentials = auth.credentials;
  return { paths, credentialsStore, credentials, auth, reader: new TaskReadClient(credentials.serverUrl, () => auth.accessToken()) };
}

/**
 * An AbortSignal that SIGINT/SIGTERM trip (the command stops after the item in flight, with
 * everything done so far kept); a second signal exits at once with 130. `dispose` removes the
 * handlers.
 */
export function interruptSignal(onFirst?: () => void): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const handler = (): void => {
    if (controller.signal.aborted) process.exit(130);
    onFirst?.();
    controller.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
