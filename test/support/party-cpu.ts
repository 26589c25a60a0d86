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
 * Samples the CPU of every backend connected to `db`'s database (pg_stat_activity: client
 * backends and autovacuum workers) every `intervalMs` until `stop()`, which returns the seconds
 * they used since `start`, in all and per backend type. A backend that ends between two samples
 * loses what it used after the last one (pools keep theirs open for a run, so this is small; an
 * autovacuum worker's last quarter second can be missed).
 */
export function watchPostgresCpu(db: Database, intervalMs = 250): { stop(): Promise<PostgresCpu> } {
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  const typeOf = new Map<number, string>();
  let started = false;
  const sample = async (): Promise<void> => {
    const { rows } = await db.query<{ pid: number; backend_type: string | null }>(
      'SELECT pid, backend_type FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    );
    for (const { pid, backend_type } of rows) {
      const cpu = procCpuSeconds(pid);
      if (cpu === null) continue;
      // A backend seen at the first sample counts from there; a later one from its start.
      if (!first.has(pid)) first.set(pid, started ? 0 : cpu);
      last.set(pid, cpu);
      typeOf.set(pid, backend_type ?? 'unknown');
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
      const result: PostgresCpu = { total: 0, byType: {} };
      for (const [pid, cpu] of last) {
        const used = cpu - first.get(pid)!;
        const type = typeOf.get(pid)!;
        result.total += used;
        result.byType[type] = (result.byType[type] ?? 0) + used;
      }
      return result;
    },
  };
}

/** PostgreSQL CPU seconds of one database's backends: in all, and per `backend_type` ("client backend", "autovacuum worker"). */
export interface PostgresCpu {
  total: number;
  byType: Record<string, number>;
}
