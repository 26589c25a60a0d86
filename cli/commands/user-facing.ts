/**
 * The commands for users (not administrators): login, logout, status, devices, sync, migrate, backfill. Each is a
 * thin shell over core/; this file only registers them, so cli/main.ts needs one line for all.
 */
import type { Command } from 'commander';
import { registerBackfillCommand } from './backfill';
import { registerDevicesCommand } from './devices';
import { registerLoginCommands } from './login';
import { registerMigrateCommand } from './migrate';
import { registerStatusCommand } from './status';
import { registerSyncCommand } from './sync';

export function registerUserFacingCommands(program: Command): void {
  registerLoginCommands(program);
  registerStatusCommand(program);
  registerDevicesCommand(program);
  registerSyncCommand(program);
  registerMigrateCommand(program);
  registerBackfillCommand(program);
}
