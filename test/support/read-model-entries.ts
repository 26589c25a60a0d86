/**
 * Reaching into a relay's read model from tests. A message row names the log change that wrote
 * its current version (messages.seq); the entry itself is that change's `entry`
 * (server/projections/read-model.ts).
 */
import type { Queryable } from '../../server/db/database';
import { hashJson } from '../../core/model/hash';

const NAMED_CHANGE = `FROM messages m
  JOIN conversations c ON c.id = m.conversation_id
  JOIN sync_operations s ON s.user_id = c.user_id AND s.seq = m.seq`;

/** How many entries of `stream` in the read model hold `text` (anywhere in their JSON). */
export async function countEntriesContaining(db: Queryable, stream: 'ui' | 'api', text: string): Promise<number> {
  const { rows } = await db.query<{ n: string | number }>(
    `SELECT count(*) AS n ${NAMED_CHANGE} WHERE m.stream = $1 AND strpos((s.body -> 'entry')::text, $2) > 0`,
    [stream, text],
  );
  return Number(rows[0]!.n);
}

/**
 * Rewrites one entry on the relay behind every device's back (the log change the message names
 * and the message's hash), as a faulty or tampered relay would: for tests of `--verify`.
 */
export async function rewriteEntryOnRelay(
  db: Queryable,
  at: { taskId: string; stream: 'ui' | 'api'; key: string },
  entry: unknown,
): Promise<void> {
  const hash = hashJson(entry);
  const { rowCount } = await db.query(
    `UPDATE sync_operations s
        SET body = (s.body::jsonb || jsonb_build_object('entry', $1::jsonb, 'hash', $2::text))::json
       FROM messages m JOIN conversations c ON c.id = m.conversation_id
      WHERE s.user_id = c.user_id AND s.seq = m.seq AND c.task_id = $3 AND m.stream = $4 AND m.entry_key = $5`,
    [JSON.stringify(entry), hash, at.taskId, at.stream, at.key],
  );
  if (rowCount !== 1) throw new Error(`expected one entry at ${at.taskId}/${at.stream}/${at.key}, found ${rowCount}`);
  await db.query(
    `UPDATE messages m SET content_hash = $1 FROM conversations c
      WHERE c.id = m.conversation_id AND c.task_id = $2 AND m.stream = $3 AND m.entry_key = $4`,
    [hash, at.taskId, at.stream, at.key],
  );
}
