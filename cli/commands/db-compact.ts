/**
 * `roo-sync db compact [--older-than-seconds N]`: runs the change-log retention job once for
 * every user (what a running relay does on its --compaction-interval-seconds timer).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { compactAllLogs } from '../../server/accounts/retention';
import { RELAY_DEFAULTS } from '../../server/config/relay-config';
import { withAdmin, withAdminConnection, type AdminConnectionOptions, type AdminDeps } from './admin-connection';

/** Adds `compact` under the `db` command (created by registerDbCommands; made here when absent). */
export function registerDbCompactCommand(program: Command, deps: AdminDeps = {}): void {
  const db = program.commands.find((c) => c.name() === 'db') ?? program.command('db').description('Database administration');
  withAdminConnection(
    db
      .command('compact')
      .description('Compact every user\'s change log: drop superseded changes older than the retention age (latest change per entity kept)')
      .addOption(
        new Option('--older-than-seconds <n>', 'retention age, seconds')
          .env('COMPACTION_AGE_SECONDS')
          .default(RELAY_DEFAULTS.sync.compactionAgeSeconds)
          .argParser(parseSeconds),
      ),
    { mustExist: true },
  ).action(async (options: AdminConnectionOptions & { olderThanSeconds: number | string }, cmd: Command) => {
    const age = typeof options.olderThanSeconds === 'string' ? parseSeconds(options.olderThanSeconds) : options.olderThanSeconds;
    await withAdmin(deps, options, cmd, async ({ db: database, out }) => {
      const summary = await compactAllLogs(database, age);
      out(`compacted ${summary.users} user log(s): ${summary.removed} change(s) removed`);
    });
  });
}

function parseSeconds(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError('a number of seconds (0 or more)');
  return Number(value.trim());
}
