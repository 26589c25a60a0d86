/**
 * What a device of the account can do, from the kind it registered as (`vscode`, `cli`, `web`,
 * ...; server/accounts/devices.ts). Remote commands (start a task, send a message, approve, deny,
 * cancel) run on the assistant's extension API, so only a device where the VS Code extension runs
 * can take them: the roo-sync CLI syncs a store but never drives the assistant, a browser has none.
 */

/** The fields of a listed device that decide whether it can run tasks. */
export interface DeviceKindFacts {
  kind: string | null;
  revokedAt?: string | null;
}

/** The kind the VS Code extension registers as: the only one that runs remote commands. */
export const TASK_RUNNER_KIND = 'vscode';

/** True when `device` can take remote commands: it runs the assistant and is not revoked. */
export function canRunTasks(device: DeviceKindFacts): boolean {
  return !device.revokedAt && device.kind === TASK_RUNNER_KIND;
}

/** What to tell a user who has no device that can take a remote command. */
export const NO_TASK_RUNNER_MESSAGE = 'Remote control needs VS Code with roo-sync on the other computer; the roo-sync CLI syncs tasks but cannot run them.';
