import type { Command } from 'commander';

/** `roo-sync server`: runs the relay (filled in by the relay server work). */
export function registerServerCommand(program: Command): void {
  program.command('server').description('Run the relay server').action(() => {
    throw new Error('not built yet');
  });
}
