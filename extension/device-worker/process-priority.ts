/**
 * Runs the calling process below normal priority, every thread of it. On Linux a nice value
 * belongs to a thread, not a process: `setPriority(pid)` changes only the thread whose id is
 * `pid`, and threads started before it (V8's platform threads: garbage collection, compilation)
 * keep theirs. So on Linux every thread listed in /proc/self/task gets it; threads started later
 * inherit it from the thread that starts them. Best effort: where it is not allowed, the process
 * runs at its parent's priority.
 */
import { readdirSync } from 'node:fs';
import { constants, setPriority } from 'node:os';

/** Below normal: nice 10 on Linux and macOS, BELOW_NORMAL on Windows. */
export const DEVICE_PROCESS_PRIORITY = constants.priority.PRIORITY_BELOW_NORMAL;

/** Lowers every thread of this process to `priority`; returns how many threads it changed. */
export function lowerOwnPriority(priority = DEVICE_PROCESS_PRIORITY): number {
  let threads: string[] = [];
  if (process.platform === 'linux') {
    try {
      threads = readdirSync('/proc/self/task');
    } catch {
      threads = [];
    }
  }
  if (threads.length === 0) return trySetPriority(0, priority) ? 1 : 0;
  let changed = 0;
  for (const tid of threads) if (trySetPriority(Number(tid), priority)) changed++;
  return changed;
}

function trySetPriority(id: number, priority: number): boolean {
  try {
    setPriority(id, priority);
    return true;
  } catch {
    return false; // not allowed here, or the thread has ended
  }
}
