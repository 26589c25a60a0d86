/**
 * A section that one caller at a time runs, across processes and within one: an in-process
 * queue (a directory lock cannot tell two callers of one process apart) in front of core's
 * file lock (`<lockPath>.lock`). The credentials stores run token rotation in it.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { withFileLock, type FileLockOptions } from '../stores/file-lock';

export class ExclusiveSection {
  private turn: Promise<unknown> = Promise.resolve();

  constructor(
    /** The path the lock guards; the lock directory is `<lockPath>.lock`. */
    private readonly lockPath: string,
    private readonly lock: Partial<FileLockOptions> = {},
  ) {}

  run<T>(work: () => Promise<T>): Promise<T> {
    const next = this.turn.then(async () => {
      await mkdir(dirname(this.lockPath), { recursive: true, mode: 0o700 });
      return withFileLock(this.lockPath, this.lock, work);
    });
    this.turn = next.catch(() => undefined);
    return next;
  }
}
