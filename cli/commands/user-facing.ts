/**
 * The commands for users (not administrators). Each is a thin shell over core/; this file only
 * registers them, so cli/main.ts needs one line for all of them.
 */
import type { Command } from 'commander';

export function registerUserFacingCommands(_program: Command): void {}
