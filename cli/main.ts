/**
 * `roo-sync`: the command-line entry point. Each sub-command lives in cli/commands/ and is a
 * thin shell around core/ and server/. `bin/roo-sync.cjs` (the package's bin) and the bundle
 * `dist/cli.js` both end in `runCli`.
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

/** What a usage error prints after the error line, instead of the whole help. */
export const USAGE_HINT = "(run 'roo-sync --help', or 'roo-sync <command> --help', for usage)";

/** Exit code of a usage error (unknown command or option, missing argument, conflicting options). */
export const USAGE_EXIT_CODE = 2;

export function buildProgram(): Command {
  const program = new Command('roo-sync')
    .description('Sync AI coding assistant task history across devices; run and administer the relay.')
    .version(process.env.ROO_SYNC_VERSION ?? '0.1.0')
    // Sub-commands registered below inherit it: a usage error prints the error and this one line.
    .showHelpAfterError(USAGE_HINT)
    // Commander's own errors in the CLI's error format: `roo-sync: [CLI_USAGE] unknown option '--x'`.
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'roo-sync: [CLI_USAGE] ')) })
    // Throw instead of exiting, so runCli sets the exit code: 2 for a usage error (inherited too).
    .exitOverride();
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

/**
 * A reader that closes the pipe early (`roo-sync --help | head`) makes writes to stdout or
 * stderr fail with EPIPE, an 'error' event that would end the process with a stack trace. The
 * output is no longer wanted, but the command's work is (a migration or a sync is not cut short
 * by a closed pager): such errors are dropped, and the command finishes with its own exit code.
 */
function ignoreClosedPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.listenerCount('error') > 0) continue;
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
    });
  }
}

/** Runs the CLI on `argv` (process.argv shape); sets process.exitCode, never calls process.exit itself. */
export function runCli(argv: readonly string[] = process.argv): Promise<void> {
  ignoreClosedPipes();
  return buildProgram()
    .parseAsync([...argv])
    .then(() => undefined)
    .catch((err: unknown) => {
      if (err instanceof CommanderError) {
        // Commander has printed it already (a usage error with the hint line, or the help or
        // version it was asked for). Exit 0 for those, 2 for a usage error.
        process.exitCode = err.exitCode === 0 ? 0 : USAGE_EXIT_CODE;
        return;
      }
      console.error(errorLine(err));
      process.exitCode = exitCodeFor(err);
    });
}

if (require.main === module) void runCli();
