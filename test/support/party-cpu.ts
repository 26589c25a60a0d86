/**
 * CPU seconds (user + system) of the parties of a benchmark run, read from /proc and
 * process.cpuUsage: this process (the relay runs in it), and the PostgreSQL backends serving
 * one database. The machine is shared, so wall time is noisy; CPU per party is what a change
 * is judged by.
 */
import { readFileSync } from 'node:fs';
import type { Database } from '../../server/db/database';

/** User + system CPU seconds of a live process from /proc/<pid>/stat, or null once it is gone. */
export function procCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/**
 * Samples the CPU of every backend connected to `db`'s database (pg_stat_activity) every
 * `intervalMs` until `stop()`, which returns the seconds they used since `start`. A backend
 * that ends between two samples loses what it used after the last one (pools keep theirs
 * open for a run, so this is small).
 */
export function watchPostgresCpu(db: Database, intervalMs = 250): { stop(): Promise<number> } {
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  let started = false;
  const sample = async (): Promise<void> => {
    const { rows } = await db.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    );
    for (const { pid } of rows) {
      const cpu = procCpuSeconds(pid);
      if (cpu === null) continue;
      // A backend seen at the first sample counts from there; a later one from its start.
      if (!first.has(pid)) first.set(pid, started ? 0 : cpu);
      last.set(pid, cpu);
    }
    started = true;
  };
  let pending = sample();
  const timer = setInterval(() => {
    pending = pending.then(sample, sample);
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await pending.catch(() => undefined);
      await sample();
      let total = 0;
      for (const [pid, cpu] of last) total += cpu - first.get(pid)!;
      return total;
    },
  };
}
