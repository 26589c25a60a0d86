/**
 * Lowers the scheduling priority of the calling thread: the device worker runs at a higher nice
 * value than the extension host's main thread, so when both want the CPU (a first sync parsing
 * and hashing hundreds of MB on a busy 2-core machine) the main thread, which the assistant and
 * VS Code's own work share, runs first and the sync waits.
 *
 * Linux only: there the nice value belongs to each thread, and setpriority(PRIO_PROCESS, tid)
 * changes only that thread; the thread id is the last part of /proc/thread-self. Elsewhere
 * (macOS, Windows) `os.setPriority` would change the whole extension host, so nothing is done.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/** The nice value the device worker runs at (0 is the default; 19 the lowest priority). */
export const WORKER_NICE = 10;

/** Sets this thread's nice value to `nice`; returns the thread id it changed, or null when it could not. */
export function lowerThreadPriority(nice = WORKER_NICE, platform: NodeJS.Platform = process.platform): number | null {
  if (platform !== 'linux') return null;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return null;
    setPriority(tid, nice);
    return tid;
  } catch {
    // Not allowed (a sandbox) or no /proc: the worker runs at the host's priority, as before.
    return null;
  }
}
