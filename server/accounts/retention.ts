/**
 * The retention job: compacts every user's change log (server/db/change-log.ts `compactLog`),
 * removing superseded changes older than the configured age while keeping the latest change of
 * every entity. A device whose cursor predates the compaction point gets CURSOR_COMPACTED on
 * pull and resyncs from 0, so catch-up keeps working.
 */
import type { UserId } from '../../core/ids';
import { compactLog } from '../db/change-log';
import type { Database } from '../db/database';
import { silentLogger, type Logger } from '../observability/logger';

export interface CompactionSummary {
  users: number;
  removed: number;
}

/** Compacts the log of every user with one, for changes older than `ageSeconds`. */
export async function compactAllLogs(db: Database, ageSeconds: number, logger: Logger = silentLogger): Promise<CompactionSummary> {
  const olderThan = new Date(Date.now() - ageSeconds * 1000);
  const { rows } = await db.query<{ user_id: string }>('SELECT user_id FROM sync_log_heads ORDER BY user_id');
  let removed = 0;
  for (const row of rows) {
    try {
      removed += (await compactLog(db, row.user_id as UserId, olderThan)).removed;
    } catch (err) {
      logger.error('change-log compaction failed for a user', { err, userId: row.user_id });
    }
  }
  return { users: rows.length, removed };
}

export interface CompactionSchedule {
  /** Stops the timer and waits for a run in progress. Idempotent. */
  stop(): Promise<void>;
}

/** Runs `compactAllLogs` every `intervalMs` (unref'd timer; 0 disables it). */
export function scheduleCompaction(options: { db: Database; intervalMs: number; ageSeconds: number; logger?: Logger }): CompactionSchedule {
  const logger = options.logger ?? silentLogger;
  if (options.intervalMs <= 0) return { stop: async () => undefined };
  let running: Promise<void> | undefined;
  let stopped = false;
  const timer = setInterval(() => {
    if (running || stopped) return;
    running = compactAllLogs(options.db, options.ageSeconds, logger)
      .then((summary) => { if (summary.removed > 0) logger.info('change log compacted', { ...summary }); })
      .catch((err: unknown) => logger.error('change-log compaction failed', { err }))
      .finally(() => { running = undefined; });
  }, options.intervalMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
