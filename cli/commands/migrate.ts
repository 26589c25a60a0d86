/**
 * `roo-sync migrate [--source ASSISTANT|PATH]... [--dry-run] [--since DATE] [--verify] [--force]`:
 * uploads this machine's existing task history to the relay through the device (see
 * core/node/migrate): plan, streamed upload, resumable, never writing to the stores; unreadable
 * tasks listed at the end (exit 3); `--verify` compares every task with the relay's copy.
 */
import { homedir } from 'node:os';
import { Command } from 'commander';
import { TaskReadClient } from '../../core/client/task-read-client';
import { journalPathFor, readJournal } from '../../core/node/backfill/backfill-journal';
import { SyncError } from '../../core/errors';
import { planMigration, planRounds, type MigrationPlan, type UnreadableTask } from '../../core/node/migrate/migration-plan';
import { runMigration, type MigrationResult } from '../../core/node/migrate/run-migration';
import { verifyMigration, type VerifyResult } from '../../core/node/migrate/verify-migration';
import { openDiscoveredStore } from '../../core/node/stores';
import { FsTaskStore } from '../../core/node/stores/fs-task-store';
import { selectStores, type SelectedStore } from '../../core/node/stores/store-selection';
import { TASK_SOURCES } from '../../core/model/changes';
import { formatMb, markPartialFailure, outputFor, withExitCodesHelp } from '../cli-output';
import { cliPaths } from '../cli-paths';
import { interruptSignal, requireSignedIn } from '../cli-session';
import { onlineWithin, openCliDevice, requireSyncing, stderrLogger } from '../device-runtime';
import { createProgress } from '../progress';

interface MigrateFlags {
  source?: string[];
  dryRun?: boolean;
  since?: string;
  verify?: boolean;
  force?: boolean;
  json?: boolean;
}

export function registerMigrateCommand(program: Command): void {
  withExitCodesHelp(
    program
      .command('migrate')
      .description("Upload this machine's existing task history to the relay (resumable; never changes the local stores)")
      .option('--source <store...>', `only these stores: ${TASK_SOURCES.join('|')}, or a folder (PATH, or ASSISTANT=PATH); default every store found`)
      .option('--dry-run', 'print what would be uploaded (reads every task, lists the unreadable ones); upload nothing')
      .option('--since <date>', 'only tasks active since this date (ISO 8601, e.g. 2026-01-31)')
      .option('--verify', "afterwards, compare every task with the relay's copy and list each difference")
      .option('--force', 'upload a store that `roo-sync backfill` filled from the relay, all of it again')
      .option('--json', 'print only the result, as JSON'),
  ).action(async (flags: MigrateFlags, cmd: Command) => {
    const out = outputFor(cmd, !!flags.json);
    const since = parseSince(flags.since);
    if (!flags.dryRun) await requireSignedIn();
    const selected = await selectStores(flags.source ?? [], { home: homedir(), platform: process.platform, env: process.env });
    if (selected.length === 0) throw new SyncError('CLI_STORE_NOT_FOUND', 'no task store of Roo Code, Zoo Code, Kilo Code or Cline on this machine; name one with --source PATH', { selector: '' });
    if (!flags.force && !flags.dryRun) await refuseBackfilled(selected);
    const stores = selected.map(readerOf);
    const plan = await planMigration(stores, { since, countMessages: flags.dryRun });
    if (flags.dryRun) {
      out.result({ dryRun: true, plan: planJson(plan) }, () => [...describePlan(plan, 'would upload'), ...describeUnreadable(plan.unreadable)]);
      markPartialFailure(plan.unreadable.length);
      return;
    }
    out.line(describePlan(plan, 'migrating', '; what the relay already has is not sent again').join('\n'));
    const results: MigrationResult[] = [];
    let verify: VerifyResult | undefined;
    const progress = createProgress({ label: 'migrating', quiet: out.json });
    const interrupt = interruptSignal(() => {
      progress.done();
      if (!out.json) process.stderr.write('roo-sync: stopping after the tasks in flight (everything uploaded so far is kept; run again to resume)\n');
    });
    let tasksBefore = 0;
    let bytesBefore = 0;
    try {
      for (const round of planRounds(plan)) {
        if (interrupt.signal.aborted) break;
        const device = await openCliDevice({ stores: selected.filter((s) => round.stores.some((r) => r.source === s.source && r.basePath === s.basePath)), holderName: 'roo-sync migrate', live: false, logger: stderrLogger(true) });
        try {
          requireSyncing(device);
          await onlineWithin(device, 15_000);
          const result = await runMigration({
            storage: device.storage!,
            plan: round,
            signal: interrupt.signal,
            onProgress: (p) => progress.update({ tasksDone: tasksBefore + p.tasksDone, tasksTotal: plan.totals.tasks, bytesDone: bytesBefore + p.bytesDone, bytesTotal: plan.totals.bytes }),
          });
          results.push(result);
          tasksBefore += round.totals.tasks;
          bytesBefore += round.totals.bytes;
          if (flags.verify && !result.aborted) {
            const auth = device.auth!;
            const reader = new TaskReadClient(auth.credentials.serverUrl, () => auth.accessToken());
            const checked = await verifyMigration({ stores: stores.filter((s) => round.stores.some((r) => r.source === s.source && r.basePath === s.basePath)), tasks: round.tasks, relay: reader });
            verify = verify ? { checked: verify.checked + checked.checked, matching: verify.matching + checked.matching, differences: [...verify.differences, ...checked.differences] } : checked;
          }
        } finally {
          await device.close();
        }
      }
    } finally {
      interrupt.dispose();
      progress.done();
    }
    const total = sumResults(results, plan);
    out.result({ ...total, plan: planJson(plan), ...(verify ? { verify } : {}) }, () => [
      total.aborted
        ? `interrupted after ${total.accepted} change(s): run the same command again to resume`
        : total.upToDate
          ? `nothing new to upload: the relay already has all ${total.tasks - total.unreadable.length} ${total.unreadable.length > 0 ? 'readable ' : ''}task(s)`
          : `uploaded ${total.tasks - total.unreadable.length} task(s)${total.unreadable.length > 0 ? ` of ${total.tasks}` : ''}, ${formatMb(total.bytes)}: ${total.queued} change(s) queued, ${total.accepted} accepted by the relay`,
      ...(total.unresolved > 0 ? [`${total.unresolved} conflict(s) left for the next sync`] : []),
      ...describeUnreadable(total.unreadable),
      ...(verify ? describeVerify(verify) : []),
    ]);
    markPartialFailure(total.unreadable.length + (verify?.differences.length ? 1 : 0));
  });
}

/**
 * MIGRATE_STORE_BACKFILLED when a store was filled by `roo-sync backfill` (its journal is there,
 * not rolled back): migrate does not pull, so it would take every task the relay gave it for new
 * and upload them all again, while `sync` recognises them and sends only what is this machine's.
 */
async function refuseBackfilled(stores: readonly SelectedStore[]): Promise<void> {
  const journals = cliPaths().backfillJournals;
  const backfilled: SelectedStore[] = [];
  for (const store of stores) if ((await readJournal(journalPathFor(journals, store.basePath, store.source))) !== null) backfilled.push(store);
  if (backfilled.length === 0) return;
  throw new SyncError(
    'MIGRATE_STORE_BACKFILLED',
    `${backfilled.map((s) => `${s.source} (${s.basePath})`).join(', ')} came from the relay ("roo-sync backfill"): migrate would upload those tasks again. Run "roo-sync sync", which sends only what is new on this machine; or name the other stores with --source; or upload everything again with --force`,
    { stores: backfilled.map((s) => ({ source: s.source, basePath: s.basePath })) },
  );
}

function readerOf(store: SelectedStore): FsTaskStore {
  return store.found ? openDiscoveredStore(store.found) : new FsTaskStore({ source: store.source, basePath: store.basePath });
}

function parseSince(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw new SyncError('CLI_USAGE', `--since ${JSON.stringify(value)} is not a date (use ISO 8601, e.g. 2026-01-31)`);
  return ms;
}

function planJson(plan: MigrationPlan): Omit<MigrationPlan, 'tasks'> {
  const { tasks: _tasks, ...rest } = plan;
  return rest;
}

function describePlan(plan: MigrationPlan, verb: string, note = ''): string[] {
  const messages = plan.totals.messages === null ? '' : `, ${plan.totals.messages} messages`;
  return [
    `${verb} ${plan.totals.tasks} task(s)${messages}, ${formatMb(plan.totals.bytes)} from ${plan.totals.stores} store(s)${note}:`,
    ...plan.stores.map((s) => `  ${s.source.padEnd(10)} ${String(s.tasks).padStart(6)} tasks ${s.messages === null ? '' : `${String(s.messages).padStart(8)} messages `}${formatMb(s.bytes).padStart(10)}  ${s.basePath}`),
    ...plan.problems.map((p) => `  problem: [${p.code}] ${p.path}: ${p.reason}`),
  ];
}

function describeUnreadable(unreadable: readonly UnreadableTask[]): string[] {
  if (unreadable.length === 0) return [];
  return [`${unreadable.length} task(s) could not be read (left as they are, not uploaded):`, ...unreadable.map((u) => `  ${u.source} ${u.taskId}  [${u.code}] ${u.path ?? ''}${u.reason ? `: ${u.reason}` : ''}`)];
}

function describeVerify(verify: VerifyResult): string[] {
  if (verify.differences.length === 0) return [`verified: all ${verify.checked} task(s) match the relay`];
  return [
    `verify: ${verify.checked - verify.matching} of ${verify.checked} task(s) differ from the relay:`,
    ...verify.differences.map((d) => `  ${d.source} ${d.taskId} ${d.kind}${d.part ? ` ${d.part}` : ''}${d.key ? ` ${d.key}` : ''}`),
  ];
}

function sumResults(results: readonly MigrationResult[], plan: MigrationPlan): MigrationResult {
  const sum: MigrationResult = { tasks: 0, bytes: 0, queued: 0, accepted: 0, conflicts: 0, unresolved: 0, unreadable: [], aborted: results.length < planRounds(plan).length, upToDate: true };
  for (const r of results) {
    sum.tasks += r.tasks;
    sum.bytes += r.bytes;
    sum.queued += r.queued;
    sum.accepted += r.accepted;
    sum.conflicts += r.conflicts;
    sum.unresolved += r.unresolved;
    sum.unreadable.push(...r.unreadable);
    sum.aborted ||= r.aborted;
    sum.upToDate &&= r.upToDate;
  }
  return sum;
}

