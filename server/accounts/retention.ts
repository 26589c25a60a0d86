/**
 * The retention job: compacts every user's change log (server/db/change-log.ts `compactLog`),
 * removing superseded changes older than the configured age while keeping the latest change of
 * every entity. A device whose cursor predates the compaction point gets CURSOR_COMPACTED on
 * pull and resyncs from 0, so catch-up keeps working. The same run deletes finished remote
 * commands (done, failed, expired) older than their own retention age, so the command queue
 * holds open commands and recent results only, and deletes expired pending blob uploads
 * (server/blobs/blob-uploads.ts).
 */
import type { UserId } from '../../core/ids';
import { purgeExpiredUploads } from '../blobs/blob-uploads';
import { deleteFinishedCommands } from '../commands/command-store';
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

/** Deletes finished commands that finished more than `ageSeconds` ago; returns how many. */
export async function purgeFinishedCommands(db: Database, ageSeconds: number): Promise<number> {
  return deleteFinishedCommands(db, new Date(Date.now() - ageSeconds * 1000));
}

export interface CompactionSchedule {
  /** Stops the timer and waits for a run in progress. Idempotent. */
  stop(): Promise<void>;
}

export interface CompactionScheduleOptions {
  db: Database;
  /** 0 disables the job. */
  intervalMs: number;
  /** Change-log retention (RelayConfig.sync.compactionAgeSeconds). */
  ageSeconds: number;
  /** Finished-command retention (RelayConfig.sync.commandRetentionSeconds); unset keeps them. */
  commandRetentionSeconds?: number;
  logger?: Logger;
}

/** Runs `compactAllLogs`, `purgeFinishedCommands` and `purgeExpiredUploads` every `intervalMs` (unref'd timer; 0 disables it). */
export function scheduleCompaction(options: CompactionScheduleOptions): CompactionSchedule {
  const logger = options.logger ?? silentLogger;
  if (options.intervalMs <= 0) return { stop: async () => undefined };
  let running: Promise<void> | undefined;
  let stopped = false;
  const timer = setInterval(() => {
    if (running || stopped) return;
    const compaction = compactAllLogs(options.db, options.ageSeconds, logger)
      .then((summary) => { if (summary.removed > 0) logger.info('change log compacted', { ...summary }); })
      .catch((err: unknown) => logger.error('change-log compaction failed', { err }));
    const retention = options.commandRetentionSeconds;
    running = compaction
      .then(async () => {
        if (retention === undefined || stopped) return;
        const removed = await purgeFinishedCommands(options.db, retention);
        if (removed > 0) logger.info('finished commands deleted', { removed });
      })
      .catch((err: unknown) => logger.error('finished-command purge failed', { err }))
      .then(async () => {
        if (stopped) return;
        const removed = await purgeExpiredUploads(options.db);
        if (removed > 0) logger.info('expired blob uploads deleted', { removed });
      })
      .catch((err: unknown) => logger.error('expired blob upload purge failed', { err }))
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
