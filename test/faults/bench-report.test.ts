/**
 * The bench report (test/bench/bench-report.ts, svg-charts.ts): from the raw data the benches
 * leave it writes bench-report.md with the fault table, links to SVG charts that exist and are
 * well-formed SVG, and every figure (a null baseline spelled "none").
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeBenchReport } from '../bench/bench-report';
import { cdfChart, escapeXml } from '../bench/svg-charts';

describe('writeBenchReport', () => {
  let dir: string;
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'roo-sync-report-')); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  it('writes the fault table, the Syncthing and load charts as SVG files, and every figure', async () => {
    await writeFile(join(dir, 'faults.json'), JSON.stringify([{ name: 'relay-sigkill', made: 10, acknowledged: 10, lost: 1, duplicated: 0, corruptFiles: 0, conflictCopies: 0, taskCopies: 3, divergedTasks: 0, convergeMs: 1500, converged: true, examples: ['lost on A: fx|a|t|1'] }]));
    const run = (tool: string, base: number) => ({ tool, latencies: [base, base * 2, base * 3], bytesPerMessage: base * 10, lost: 0, corruptOrConflict: 0, timeline: [[0, 0], [100, 3]] });
    await writeFile(join(dir, 'syncthing.json'), JSON.stringify({ roo: run('roo_sync', 20), st: run('syncthing', 1000) }));
    await writeFile(join(dir, 'load.json'), JSON.stringify({ throughput: [[0, 10], [1, 12]], latencies: [5, 6, 7] }));
    const path = await writeBenchReport(dir, [{ name: 'faults.lost', value: 1, unit: 'messages', baseline: null, target: '== 0' }], 'npm run bench -- report X');
    const md = await readFile(path, 'utf8');
    assert.match(md, /\| relay-sigkill \| 10 \| 10 \| 1 \| 0 \| 0 \| 0 \| 3 \| 0 \| 1\.5 \|/, 'task conflict copies in their own column');
    assert.match(md, /`lost on A: fx\|a\|t\|1`/);
    assert.match(md, /\| faults\.lost \| 1 \| messages \| none \| == 0 \|/);
    for (const svg of ['peer-latency.svg', 'peer-throughput.svg', 'peer-comparison.svg', 'load-throughput.svg', 'load-latency.svg']) {
      assert.ok(md.includes(`](${svg})`), `${svg} linked`);
      const text = await readFile(join(dir, svg), 'utf8');
      assert.match(text, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*>[\s\S]*<\/svg>\n$/);
      assert.doesNotMatch(text, /NaN|undefined/);
    }
  });

  it('leaves out the sections whose data is missing', async () => {
    const md = await readFile(await writeBenchReport(dir, [], 'x'), 'utf8');
    assert.doesNotMatch(md, /## Faults|## Side by side|## Load/);
  });
});

describe('cdfChart', () => {
  it('draws one path per series and escapes labels', () => {
    const svg = cdfChart('a < b', 'ms', [{ label: 'x & y', values: [3, 1, 2] }, { label: 'z', values: [10] }]);
    assert.equal((svg.match(/<path /g) ?? []).length, 2);
    assert.ok(svg.includes(escapeXml('x & y')) && svg.includes('a &lt; b'));
  });
});
