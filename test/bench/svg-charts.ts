/**
 * Hand-made SVG charts for the bench report (no library: a few rectangles, paths and labels).
 * Each returns one standalone `<svg>` document; values are plain numbers, labels are escaped.
 */

export interface Series {
  label: string;
  /** [x, y] points. */
  points: ReadonlyArray<readonly [number, number]>;
}

const COLOURS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea'];
const W = 640;
const H = 320;
const PAD = { left: 64, right: 16, top: 28, bottom: 44 };

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

function frame(title: string, xLabel: string, yLabel: string, xMax: number, yMax: number, body: string, legend: readonly string[], xLog = false): string {
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const ticks: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const y = PAD.top + plotH - (plotH * i) / 4;
    const value = (yMax * i) / 4;
    ticks.push(`<line x1="${PAD.left}" y1="${y}" x2="${W - PAD.right}" y2="${y}" stroke="#e5e7eb"/><text x="${PAD.left - 6}" y="${y + 4}" text-anchor="end" font-size="11">${+value.toPrecision(3)}</text>`);
    const x = PAD.left + (plotW * i) / 4;
    const xv = xLog ? 10 ** ((Math.log10(xMax) * i) / 4) : (xMax * i) / 4;
    ticks.push(`<text x="${x}" y="${H - PAD.bottom + 16}" text-anchor="middle" font-size="11">${+xv.toPrecision(3)}</text>`);
  }
  const legendItems = legendRow(legend, PAD.top + 4);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">
<rect width="${W}" height="${H}" fill="#fff"/>
<text x="${W / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(title)}</text>
${ticks.join('\n')}
<line x1="${PAD.left}" y1="${PAD.top + plotH}" x2="${W - PAD.right}" y2="${PAD.top + plotH}" stroke="#111"/>
<line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${PAD.top + plotH}" stroke="#111"/>
<text x="${PAD.left + plotW / 2}" y="${H - 8}" text-anchor="middle" font-size="12">${escapeXml(xLabel)}</text>
<text x="14" y="${PAD.top + plotH / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 14 ${PAD.top + plotH / 2})">${escapeXml(yLabel)}</text>
${body}
${legendItems}
</svg>
`;
}

/** Lines through each series' points (x and y from 0). `xLog` puts x on a log scale (x >= 1). */
export function lineChart(title: string, xLabel: string, yLabel: string, series: readonly Series[], options: { xLog?: boolean } = {}): string {
  const all = series.flatMap((s) => s.points);
  const xMax = niceMax(Math.max(1, ...all.map(([x]) => x)));
  const yMax = niceMax(Math.max(0, ...all.map(([, y]) => y)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const sx = (x: number): number => PAD.left + (options.xLog ? (Math.log10(Math.max(1, x)) / Math.log10(xMax)) : x / xMax) * plotW;
  const sy = (y: number): number => PAD.top + plotH - (y / yMax) * plotH;
  const paths = series.map((s, i) => {
    if (s.points.length === 0) return '';
    const d = s.points.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    return `<path d="${d}" fill="none" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="2"/>`;
  }).join('\n');
  return frame(title, xLabel, yLabel, xMax, yMax, paths, series.map((s) => s.label), options.xLog);
}

/** The cumulative distribution of each series' values (x: value, y: share of samples <= x, %). */
export function cdfChart(title: string, xLabel: string, samples: ReadonlyArray<{ label: string; values: readonly number[] }>, options: { xLog?: boolean } = {}): string {
  const series: Series[] = samples.map(({ label, values }) => {
    const sorted = [...values].sort((a, b) => a - b);
    return { label, points: sorted.map((v, i) => [v, ((i + 1) / sorted.length) * 100] as const) };
  });
  return lineChart(title, xLabel, 'share of messages (%)', series, options);
}

/** Grouped bars: one group per metric, one bar per tool, each group scaled to its own largest value (labelled with the values). */
/** Colour keys in a row, from the plot's left edge, their boxes' tops at `y`. */
function legendRow(labels: readonly string[], y: number): string {
  return labels.map((label, i) => `<rect x="${PAD.left + 8 + i * 150}" y="${y}" width="10" height="10" fill="${COLOURS[i % COLOURS.length]}"/><text x="${PAD.left + 22 + i * 150}" y="${y + 9}" font-size="11">${escapeXml(label)}</text>`).join('');
}

export function groupedBars(title: string, groups: ReadonlyArray<{ metric: string; values: readonly number[] }>, tools: readonly string[]): string {
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const groupW = plotW / Math.max(1, groups.length);
  const barW = (groupW * 0.7) / Math.max(1, tools.length);
  const bars: string[] = [];
  groups.forEach((group, g) => {
    const max = Math.max(...group.values.map((v) => (Number.isFinite(v) ? v : 0)), 1e-9);
    group.values.forEach((value, t) => {
      const v = Number.isFinite(value) ? value : 0;
      const h = (v / max) * (plotH - 20);
      const x = PAD.left + g * groupW + groupW * 0.15 + t * barW;
      const y = PAD.top + plotH - h;
      bars.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLOURS[t % COLOURS.length]}"/><text x="${(x + barW / 2).toFixed(1)}" y="${(y - 3).toFixed(1)}" text-anchor="middle" font-size="10">${+v.toPrecision(4)}</text>`);
    });
    bars.push(`<text x="${(PAD.left + g * groupW + groupW / 2).toFixed(1)}" y="${H - PAD.bottom + 16}" text-anchor="middle" font-size="11">${escapeXml(group.metric)}</text>`);
  });
  // Below the metric names: the tallest bars and their values reach the top of the plot.
  const legend = legendRow(tools, H - 14);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">
<rect width="${W}" height="${H}" fill="#fff"/>
<text x="${W / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(title)}</text>
<line x1="${PAD.left}" y1="${PAD.top + plotH}" x2="${W - PAD.right}" y2="${PAD.top + plotH}" stroke="#111"/>
${bars.join('\n')}
${legend}
</svg>
`;
}
