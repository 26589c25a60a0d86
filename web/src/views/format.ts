/** Display helpers: money, token counts, times. */

/** Dollars: 2 decimals, or `digits` (4 for one request's cost, which is often a fraction of a cent). */
export function money(value: unknown, digits = 2): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '';
  return `$${value < 0.01 && value > 0 ? value.toFixed(4) : value.toFixed(digits)}`;
}

export function count(value: unknown): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '0';
  if (value >= 1_000_000) return `${(value / 1_000_000).toFixed(1)}M`;
  if (value >= 1_000) return `${(value / 1_000).toFixed(1)}k`;
  return String(Math.round(value));
}

export function when(ts: number): string {
  if (!ts) return '';
  const seconds = Math.round((Date.now() - ts) / 1000);
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return new Date(ts).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

export const ASSISTANTS: Readonly<Record<string, string>> = {
  'roo-code': 'Roo Code',
  'zoo-code': 'Zoo Code',
  'kilo-code': 'Kilo Code',
  cline: 'Cline',
};

export function assistantName(source: string): string {
  return ASSISTANTS[source] ?? source;
}

/** The last path segment of a workspace folder. */
export function folderName(path: unknown): string {
  if (typeof path !== 'string' || !path) return '';
  const parts = path.split(/[\\/]/).filter(Boolean);
  return parts[parts.length - 1] ?? path;
}
