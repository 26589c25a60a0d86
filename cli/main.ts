/**
 * `roo-sync`: the command-line entry point. Each sub-command lives in cli/commands/ and is a
 * thin shell around core/ and server/.
 */
import { Command, CommanderError } from 'commander';
import { registerServerCommand } from './commands/server';
import { registerDbCommands } from './commands/db';
import { registerDbCompactCommand } from './commands/db-compact';
import { registerDeviceCommands } from './commands/device';
import { registerUserCommands } from './commands/user';
import { registerUserListCommand } from './commands/user-list';
import { registerUserFacingCommands } from './commands/user-facing';
import { EXIT_CODES_HELP, errorLine, exitCodeFor } from './exit-codes';

export function buildProgram(): Command {
  const program = new Command('roo-sync')
    .description('Sync AI coding assistant task history across devices; run and administer the relay.')
    .version(process.env.ROO_SYNC_VERSION ?? '0.1.0')
    .showHelpAfterError();
  registerServerCommand(program);
  registerDbCommands(program);
  registerDbCompactCommand(program);
  registerUserCommands(program);
  registerUserListCommand(program);
  registerDeviceCommands(program);
  registerUserFacingCommands(program);
  program.addHelpText('after', EXIT_CODES_HELP);
  return program;
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      if (err instanceof CommanderError) {
        // Commander prints (and exits on) its own parse errors; one that reaches here was thrown
        // by a command's action and has not been shown yet.
        console.error(`roo-sync: ${err.message}`);
        process.exitCode = err.exitCode;
        return;
      }
      console.error(errorLine(err));
      process.exitCode = exitCodeFor(err);
    });
}
