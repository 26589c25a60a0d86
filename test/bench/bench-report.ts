/**
 * Writes `bench-report.md` (and its SVG charts beside it) from what the benches left in a
 * folder: `faults.json` (fault scenarios), `syncthing.json` (the side-by-side run),
 * `load.json` (the load run) and the figures. Pure of any process: the `report` bench runs the
 * others and then calls this.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ScenarioReport } from '../support/fault-scenarios';
import type { Figure } from './figure';
import type { PeerResult } from './syncthing.bench';
import { cdfChart, groupedBars, lineChart } from './svg-charts';

export interface LoadRun {
  /** [second since start, messages delivered in that second] */
  throughput: Array<[number, number]>;
  latencies: number[];
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

function table(rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const [head, ...body] = rows;
  return [`| ${head!.join(' | ')} |`, `|${head!.map(() => '---').join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** Writes DIR/bench-report.md and DIR/*.svg; returns the report's path. */
export async function writeBenchReport(dir: string, figures: readonly Figure[], command: string): Promise<string> {
  const faults = await readJson<ScenarioReport[]>(join(dir, 'faults.json'));
  const peers = await readJson<{ roo: PeerResult; st: PeerResult }>(join(dir, 'syncthing.json'));
  const load = await readJson<LoadRun>(join(dir, 'load.json'));
  const parts: string[] = [`# roo-sync bench report`, '', `Made by \`${command}\` on ${new Date().toISOString()}. Every figure's baseline is measured in the same run, in the figure's own unit.`, ''];

  if (faults) {
    parts.push('## Faults', '', table([
      ['scenario', 'made', 'acknowledged', 'lost', 'duplicated', 'corrupt files', 'conflict files', 'task conflict copies', 'diverged tasks', 'time to converge (s)'],
      ...faults.map((r) => [r.name, r.made, r.acknowledged, r.lost, r.duplicated, r.corruptFiles, r.conflictCopies, r.taskCopies ?? 0, r.divergedTasks, r.converged ? (r.convergeMs / 1000).toFixed(1) : `not within ${(r.convergeMs / 1000).toFixed(0)}`]),
    ]), '');
    for (const r of faults.filter((f) => f.examples.length)) parts.push(`- ${r.name}: ${r.examples.slice(0, 3).map((e) => `\`${e}\``).join(', ')}`);
    parts.push('');
  }

  if (peers) {
    const { roo, st } = peers;
    await writeFile(join(dir, 'peer-latency.svg'), cdfChart('Write to replicated file: latency distribution', 'latency (ms, log scale)', [
      { label: 'roo-sync', values: roo.latencies },
      { label: 'Syncthing', values: st.latencies },
    ], { xLog: true }));
    await writeFile(join(dir, 'peer-throughput.svg'), lineChart('Messages replicated over time (one machine writing)', 'time (ms)', 'messages seen on the other machine', [
      { label: 'roo-sync', points: roo.timeline },
      { label: 'Syncthing', points: st.timeline },
    ]));
    const p = (values: number[], q: number): number => (values.length ? [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil((q / 100) * values.length) - 1)]! : NaN);
    await writeFile(join(dir, 'peer-comparison.svg'), groupedBars('roo-sync and Syncthing, same workload (lower is better)', [
      { metric: 'p50 ms', values: [p(roo.latencies, 50), p(st.latencies, 50)] },
      { metric: 'p99 ms', values: [p(roo.latencies, 99), p(st.latencies, 99)] },
      { metric: 'bytes/message', values: [roo.bytesPerMessage, st.bytesPerMessage] },
      { metric: 'lost messages', values: [roo.lost, st.lost] },
      { metric: 'corrupt/conflict files', values: [roo.corruptOrConflict, st.corruptOrConflict] },
    ], ['roo-sync', 'Syncthing']));
    parts.push('## Side by side with Syncthing', '', '![latency distribution](peer-latency.svg)', '', '![throughput](peer-throughput.svg)', '', '![comparison](peer-comparison.svg)', '');
  }

  if (load) {
    await writeFile(join(dir, 'load-throughput.svg'), lineChart('Load: messages delivered per second', 'time (s)', 'messages/s', [{ label: 'delivered', points: load.throughput }]));
    await writeFile(join(dir, 'load-latency.svg'), cdfChart('Load: device-to-device latency', 'latency (ms, log scale)', [{ label: 'device to device', values: load.latencies }], { xLog: true }));
    parts.push('## Load', '', '![throughput](load-throughput.svg)', '', '![latency](load-latency.svg)', '');
  }

  parts.push('## Figures', '', table([['name', 'value', 'unit', 'baseline', 'target'], ...figures.map((f) => [f.name, f.value, f.unit, f.baseline ?? 'none', f.target])]), '');
  const path = join(dir, 'bench-report.md');
  await writeFile(path, parts.join('\n'));
  return path;
}
