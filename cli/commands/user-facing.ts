/**
 * The commands for users (not administrators): login, logout, migrate, backfill. Each is a
 * thin shell over core/; this file only registers them, so cli/main.ts needs one line for all.
 */
import type { Command } from 'commander';
import { registerBackfillCommand } from './backfill';
import { registerLoginCommands } from './login';
import { registerMigrateCommand } from './migrate';

export function registerUserFacingCommands(program: Command): void {
  registerLoginCommands(program);
  registerMigrateCommand(program);
  registerBackfillCommand(program);
}
