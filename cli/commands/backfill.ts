/**
 * `roo-sync backfill --target ASSISTANT|PATH [--from ASSISTANT]... [--dry-run] [--rollback]`:
 * writes the user's tasks from the relay into a local store in that assistant's format (see
 * core/node/backfill), or undoes the last backfill of that store.
 */
import { homedir } from 'node:os';
import { Command, Option } from 'commander';
import { SyncError } from '../../core/errors';
import { runBackfill } from '../../core/node/backfill/run-backfill';
import { rollbackBackfill } from '../../core/node/backfill/rollback-backfill';
import { openDiscoveredStore } from '../../core/node/stores';
import { FsTaskStore } from '../../core/node/stores/fs-task-store';
import { selectStores } from '../../core/node/stores/store-selection';
import { TASK_SOURCES, type TaskSource } from '../../core/model/changes';
import { cliPaths } from '../cli-paths';
import { formatMb, markPartialFailure, outputFor, withExitCodesHelp, type Output } from '../cli-output';
import { interruptSignal, openCliSession, requireSignedIn } from '../cli-session';
import { lockStoreFor } from '../device-runtime';
import { createProgress } from '../progress';

interface BackfillFlags {
  target: string;
  from?: string[];
  dryRun?: boolean;
  rollback?: boolean;
  json?: boolean;
}

export function registerBackfillCommand(program: Command): void {
  withExitCodesHelp(
    program
      .command('backfill')
      .description("Write your tasks from the relay into a local assistant's store (merged with what it has, never overwritten), or undo the last backfill")
      .requiredOption('--target <store>', `the store to write: ${TASK_SOURCES.join('|')}, or a folder (PATH, or ASSISTANT=PATH)`)
      .addOption(new Option('--from <assistant...>', "whose tasks to take from the relay (default: the target's own; e.g. --from roo-code into a kilo-code store)").choices([...TASK_SOURCES]))
      .option('--dry-run', 'report what would be written; write nothing')
      .option('--rollback', 'remove exactly what the last backfill into this store added (restores merged tasks byte for byte)')
      .option('--json', 'print only the result, as JSON'),
  ).action(async (flags: BackfillFlags, cmd: Command) => {
    if (flags.rollback && flags.dryRun) throw new SyncError('CLI_USAGE', '--rollback and --dry-run cannot be combined');
    const target = await targetStore(flags.target);
    const journalDir = cliPaths().backfillJournals;
    if (!flags.rollback) await requireSignedIn();
    // Ctrl-C from here on stops after the batch in flight (a second one exits at once; the lock goes with it).
    const interrupt = interruptSignal();
    try {
      // Not beside a device that syncs the store (it writes the same files, and pulls the tasks itself).
      const lock = flags.dryRun ? null : await lockStoreFor(target.basePath, 'roo-sync backfill');
      try {
        await backfillOrRollback(flags, cmd, target, journalDir, interrupt.signal);
      } finally {
        await lock?.release();
      }
    } finally {
      interrupt.dispose();
    }
  });
}

async function backfillOrRollback(flags: BackfillFlags, cmd: Command, target: FsTaskStore, journalDir: string, signal: AbortSignal): Promise<void> {
  const out = outputFor(cmd, !!flags.json);
  if (flags.rollback) {
    const r = await rollbackBackfill({ target, journalDir });
    out.result({ rolledBack: true, store: { source: target.source, basePath: target.basePath }, ...r }, () => [
      `rolled back the last backfill of ${target.basePath}: removed ${r.removedTasks} task(s), restored ${r.restoredTasks}`,
      ...r.keptChanged.map((p) => `  kept (changed since the backfill): ${p}`),
    ]);
    return;
  }
  const session = await openCliSession();
  const progress = createProgress({ label: flags.dryRun ? 'checking' : 'backfilling', quiet: out.json });
  const endBar = (): void => progress.done();
  signal.addEventListener('abort', endBar, { once: true });
  try {
    const result = await runBackfill({
      relay: session.reader,
      target,
      journalDir,
      from: flags.from as TaskSource[] | undefined,
      dryRun: flags.dryRun,
      signal,
      onProgress: (e) => progress.update({ tasksDone: e.tasksDone, tasksTotal: e.tasksTotal, bytesDone: e.bytesDone }),
      onReadModelBehind: readModelNotice(out),
    });
    progress.done();
    out.result({ store: { source: target.source, basePath: target.basePath }, ...result }, () => [
      `${flags.dryRun ? 'would write' : 'wrote'} into ${target.basePath} (${target.source}): ${result.created} new task(s), ${result.merged} merged, ${result.unchanged} already there; ${result.added.ui + result.added.api} message(s), ${formatMb(result.bytes)} fetched`,
      ...(result.aborted ? ['interrupted: run the same command again to finish'] : []),
      ...(result.journal ? [`undo with: roo-sync backfill --target ${flags.target} --rollback`] : []),
      ...(result.journal && !result.aborted && !flags.dryRun ? ['keep this machine in sync with "roo-sync sync" (or the extension): it sends back nothing the relay already has'] : []),
      ...(result.failed.length > 0 ? [`${result.failed.length} task(s) could not be written:`, ...result.failed.map((f) => `  ${f.taskId}  [${f.code}] ${f.path ?? ''} ${f.reason ?? ''}`.trimEnd())] : []),
    ]);
    markPartialFailure(result.failed.length);
  } finally {
    signal.removeEventListener('abort', endBar);
    progress.done();
  }
}

/** A line when backfill first waits for the relay's read model, then one every 10 s while it does. */
function readModelNotice(out: Output): (changes: number) => void {
  let last = -Infinity;
  return (changes) => {
    if (Date.now() - last < 10_000) return;
    last = Date.now();
    out.line(`waiting for the relay to finish applying ${changes} change(s) pushed before this backfill (a migration that just ended)...`);
  };
}

/** The one store `selector` names (CLI_USAGE when it names several). */
async function targetStore(selector: string): Promise<FsTaskStore> {
  const stores = await selectStores([selector], { home: homedir(), platform: process.platform, env: process.env });
  if (stores.length > 1) {
    throw new SyncError('CLI_USAGE', `${selector} names ${stores.length} stores (${stores.map((s) => s.basePath).join(', ')}); give the folder as --target PATH`, { selector });
  }
  const store = stores[0]!;
  return store.found ? openDiscoveredStore(store.found) : new FsTaskStore({ source: store.source, basePath: store.basePath });
}
