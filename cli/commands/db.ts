import type { Command } from 'commander';

/** `roo-sync db ...`: database migrations (filled in by the relay server work). */
export function registerDbCommands(program: Command): void {
  program.command('db').description('Database migrations');
}
