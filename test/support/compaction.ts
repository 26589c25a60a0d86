/**
 * Compaction in tests against a relay whose projector runs: compaction keeps a superseded put
 * the read model still names (server/db/change-log.ts `compactLog`), so compacting before the
 * projector has applied the newer version removes less than the test means to. These helpers
 * wait for the read model to cover the log first.
 */
import type { UserId } from '../../core/ids';
import { compactLog, type CompactResult } from '../../server/db/change-log';
import type { Database } from '../../server/db/database';
import { readModelPosition } from '../../server/projections/read-model';
import { waitFor } from './redis';

/** Waits until the relay's projector has applied `userId`'s whole log. */
export async function waitForReadModel(db: Database, userId: string): Promise<void> {
  await waitFor(async () => {
    const { logSeq, projectedSeq } = await readModelPosition(db, userId);
    return projectedSeq >= logSeq;
  }, 'the read model to cover the log');
}

/** `compactLog` once the projector has applied the whole log. */
export async function compactProjected(db: Database, userId: UserId, olderThan: Date): Promise<CompactResult> {
  await waitForReadModel(db, userId);
  return compactLog(db, userId, olderThan);
}
