/**
 * Progress of a long command on stderr: a redrawn bar on a terminal (tasks, MB, rate, ETA),
 * a plain line every few seconds (and at the end) otherwise, nothing with --json.
 */
export interface ProgressSnapshot {
  tasksDone: number;
  tasksTotal: number;
  bytesDone: number;
  bytesTotal?: number;
}

export interface ProgressReporter {
  update(snapshot: ProgressSnapshot): void;
  /** Ends the bar (a newline on a terminal) and prints the last line off one. Idempotent. */
  done(): void;
}

export interface ProgressOptions {
  label: string;
  /** Print nothing (--json). */
  quiet: boolean;
  stream?: NodeJS.WriteStream;
  now?: () => number;
  /** Off a terminal: at most one line per this many ms. Default 2000. */
  lineIntervalMs?: number;
}

export function createProgress(options: ProgressOptions): ProgressReporter {
  if (options.quiet) return { update() {}, done() {} };
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? Date.now;
  const tty = stream.isTTY === true;
  const started = now();
  let last: ProgressSnapshot | null = null;
  /** Off a terminal: the snapshot last printed, and when. */
  let printed: ProgressSnapshot | null = null;
  let lastLine = 0;
  let ended = false;

  const describe = (s: ProgressSnapshot): string => {
    const seconds = Math.max(0.001, (now() - started) / 1000);
    const rate = s.bytesDone / 1e6 / seconds;
    const mb = `${(s.bytesDone / 1e6).toFixed(1)}${s.bytesTotal ? `/${(s.bytesTotal / 1e6).toFixed(1)}` : ''} MB`;
    const fraction = s.bytesTotal ? s.bytesDone / s.bytesTotal : s.tasksTotal ? s.tasksDone / s.tasksTotal : 0;
    const eta = fraction > 0 && fraction < 1 ? `ETA ${formatSeconds((seconds / fraction) * (1 - fraction))}` : '';
    return `${options.label} ${s.tasksDone}/${s.tasksTotal} tasks, ${mb}, ${rate.toFixed(1)} MB/s ${eta}`.trimEnd();
  };

  return {
    update(snapshot) {
      if (ended) return;
      last = snapshot;
      if (tty) {
        const width = 24;
        const fraction = snapshot.tasksTotal ? Math.min(1, snapshot.tasksDone / snapshot.tasksTotal) : 0;
        const filled = Math.round(fraction * width);
        stream.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${describe(snapshot)}\u001b[K`);
        return;
      }
      const t = now();
      if (printed === null || t - lastLine >= (options.lineIntervalMs ?? 2000)) {
        lastLine = t;
        printed = snapshot;
        stream.write(`${describe(snapshot)}\n`);
      }
    },
    done() {
      if (ended) return;
      ended = true;
      if (tty) {
        if (last) stream.write('\n');
      } else if (last && last !== printed) {
        stream.write(`${describe(last)}\n`);
      }
    },
  };
}

function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
