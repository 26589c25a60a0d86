/**
 * `npm run bench -- faults [--changes N] [--offline-changes N] [--only NAME,NAME]`: the long fault suite of issue
 * #15 on real processes (test/support/fault-world.ts): every scenario of fault-scenarios.ts with
 * N messages (default 2,000) across its devices, the 24 h offline one with at least 50,000
 * (time-compressed: written as fast as the disk takes them while the device is cut off). Prints
 * a table per scenario (made, acknowledged, lost, duplicated, corrupt files, conflict copies,
 * time to converge) and ends with the sums. Baselines, in each figure's own unit: what was at
 * risk in the same run (messages made; task files audited; scenarios attempted).
 * Writes `faults.json` (the reports) into `--out DIR` when given, for `bench -- report`.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SCENARIOS, type ScenarioReport } from '../support/fault-scenarios';
import { startFaultWorld } from '../support/fault-world';
import type { Benchmark, Figure } from './figure';

function numberArg(args: string[], flag: string, fallback: number): number {
  const at = args.indexOf(flag);
  const value = at >= 0 ? Number(args[at + 1]) : NaN;
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

function stringArg(args: string[], flag: string): string | undefined {
  const at = args.indexOf(flag);
  return at >= 0 ? args[at + 1] : undefined;
}

export function outDirArg(args: string[]): string | undefined {
  const at = args.indexOf('--out');
  return at >= 0 ? args[at + 1] : undefined;
}

export function printFaultTable(reports: readonly ScenarioReport[]): void {
  const rows = [['scenario', 'made', 'acked', 'lost', 'dup', 'corrupt', 'copies', 'task copies', 'diverged', 'refresh graced/revoked', 'converge s'], ...reports.map((r) => [
    r.name, r.made, r.acknowledged, r.lost, r.duplicated, r.corruptFiles, r.conflictCopies, r.taskCopies ?? 0, r.divergedTasks, `${r.refreshGraced ?? 0}/${r.refreshReused ?? 0}`, r.converged ? (r.convergeMs / 1000).toFixed(1) : `>${(r.convergeMs / 1000).toFixed(0)}`,
  ].map(String))];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) console.log(`  ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')}`);
}

export const benchmark: Benchmark = {
  name: 'faults',
  async run(args: string[]): Promise<Figure[]> {
    const changes = numberArg(args, '--changes', 2000);
    const offlineChanges = numberArg(args, '--offline-changes', 50_000);
    const only = stringArg(args, '--only')?.split(',');
    const scenarios = only ? SCENARIOS.filter((s) => only.includes(s.name)) : SCENARIOS;
    const world = await startFaultWorld();
    const reports: ScenarioReport[] = [];
    try {
      for (const scenario of scenarios) {
        const offline = scenario.name === 'offline-24h';
        const started = Date.now();
        const report = await scenario.run(world, {
          changes: offline ? Math.ceil(offlineChanges / 0.8) + 10 : changes,
          convergeTimeoutMs: offline ? 1_800_000 : 300_000,
          outageMs: 5000,
        }).catch((err: unknown): ScenarioReport => ({
          name: scenario.name, made: 0, acknowledged: 0, lost: 0, duplicated: 0, corruptFiles: 0, conflictCopies: 0, taskCopies: 0, filesAudited: 0, refreshGraced: 0, refreshReused: 0, divergedTasks: 0,
          convergeMs: Date.now() - started, converged: false, examples: [`scenario failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`],
        }));
        reports.push(report);
        console.log(`  ${scenario.name}: ${report.made} made, ${report.lost} lost, converged ${report.converged} in ${(report.convergeMs / 1000).toFixed(1)} s (scenario ${((Date.now() - started) / 1000).toFixed(0)} s)`);
        for (const example of report.examples.slice(0, 5)) console.log(`    ${example}`);
        if (report.logs) {
          console.log(report.logs.split('\n').slice(-30).map((l) => `    | ${l}`).join('\n'));
          // The whole excerpt (FAULT_LOG_CHARS per device) into FAULT_LOG_DIR, when set.
          if (process.env.FAULT_LOG_DIR) await writeFile(join(process.env.FAULT_LOG_DIR, `${scenario.name}.log`), report.logs);
        }
      }
    } finally {
      await world.close();
    }
    printFaultTable(reports);
    const out = outDirArg(args);
    if (out) await writeFile(join(out, 'faults.json'), JSON.stringify(reports.map((r) => ({ ...r, logs: undefined })), null, 2));
    const sum = (key: 'lost' | 'duplicated' | 'corruptFiles' | 'made'): number => reports.reduce((s, r) => s + r[key], 0);
    const made = sum('made');
    // Task files read and parsed on every device after every scenario (copies included).
    const filesAudited = reports.reduce((s, r) => s + (r.filesAudited ?? 0), 0);
    const clean = reports.filter((r) => r.converged && r.lost === 0 && r.duplicated === 0 && r.corruptFiles === 0 && r.divergedTasks === 0).length;
    return [
      { name: 'faults.lost', value: sum('lost'), unit: 'messages', baseline: made, target: '== 0' },
      { name: 'faults.duplicated', value: sum('duplicated'), unit: 'messages', baseline: made, target: '== 0' },
      { name: 'faults.corrupt_files', value: sum('corruptFiles'), unit: 'files', baseline: filesAudited, target: '== 0' },
      { name: 'faults.scenarios', value: clean, unit: 'scenarios', baseline: scenarios.length, target: `== ${scenarios.length} (all clean)` },
    ];
  },
};
