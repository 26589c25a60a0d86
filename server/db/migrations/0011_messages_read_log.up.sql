-- roo-sync relay schema, version 11: the read model reads message entries from the log.
-- - messages no longer hold a copy of each entry: a row names the log change that wrote its
--   current version (seq), and the messages route reads the entry from that change's body
--   (sync_operations.body -> 'entry', the text as sent). Every entry was stored twice, and
--   projecting it meant reading the body back, parsing it, serialising the entry and sending
--   it to PostgreSQL to parse, compress and write again: during a migration, about a third of
--   the relay's and PostgreSQL's work. Compaction keeps every log row a message row names
--   (server/db/change-log.ts `compactLog`); server/projections/read-model.ts reads the pages.
-- - sync_operations.head: a stream.put's body without its entry, written by the relay beside
--   the body, so the projector reads a few hundred bytes per put instead of parsing the whole
--   body. NULL for other changes and for rows stored without it (the projector then reads
--   the body).
-- - sync_push_batch(p_users, p_changes, p_bodies): 0008's function with the bodies apart, one
--   json parameter each (the relay binds them as ARRAY[$3, $4, ...]): PostgreSQL parses each
--   body once, when it is bound. In 0008's form every body is parsed three times (the
--   p_changes parameter, json_to_recordset, the body field's json input) and carried through
--   the statement's materialised CTEs. 0008's form is left as it was.
-- - messages_conversation_created_idx goes: no read uses it (pages follow the stream order
--   index; created_at is when the projector wrote a row, not message order), every projected
--   put paid for it, and the primary key serves the cascade from conversations.
ALTER TABLE messages DROP COLUMN content;
ALTER TABLE sync_operations ADD COLUMN head json;
DROP INDEX messages_conversation_created_idx;

-- 0008's sync_push_batch, the bodies apart (p_bodies[b]) and each put's head stored.
CREATE OR REPLACE FUNCTION sync_push_batch(p_users uuid[], p_changes json, p_bodies json[])
RETURNS TABLE (
  o_e             integer,
  o_i             integer,
  o_outcome       text,
  o_seq           bigint,
  o_cur_seq       bigint,
  o_cur_device_id uuid,
  o_cur_client_seq bigint,
  o_cur_base_seq  bigint,
  o_cur_entity    text,
  o_cur_body      json
)
LANGUAGE plpgsql VOLATILE
-- Every lookup is an index probe (see 0007).
SET enable_seqscan = off
SET work_mem = '64MB' -- (as 0010 for the two-argument form)
AS $fn$
BEGIN
  -- Counter rows for users who never pushed, then every user's row locked, in id order.
  INSERT INTO sync_log_heads (user_id)
  SELECT u.id FROM unnest(p_users) AS u(id)
   WHERE NOT EXISTS (SELECT 1 FROM sync_log_heads h WHERE h.user_id = u.id)
   ORDER BY u.id
  ON CONFLICT (user_id) DO NOTHING;
  PERFORM 1 FROM sync_log_heads h WHERE h.user_id = ANY (p_users) ORDER BY h.user_id FOR UPDATE;

  RETURN QUERY
  WITH input AS (
    SELECT r.e, r.user_id, r.device_id, r.i, r.client_seq, r.base_seq, r.entity, r.change_type, r.b, r.head, r.mergeable
      FROM json_to_recordset(p_changes)
        AS r(e integer, user_id uuid, device_id uuid, i integer, client_seq bigint, base_seq bigint,
             entity text, change_type text, b integer, head json, mergeable boolean)
  ),
  entries AS (
    -- Per entry: the user's counter and compaction marks, and the device's highest stored
    -- clientSeq (one backward probe).
    SELECT d.e, d.user_id, d.device_id, h.seq AS head_seq, h.compacted_seq,
           coalesce((h.compacted_clients ->> d.device_id::text)::bigint, 0) AS compacted_client,
           coalesce((SELECT s.client_seq FROM sync_operations s
                      WHERE s.user_id = d.user_id AND s.device_id = d.device_id
                      ORDER BY s.client_seq DESC LIMIT 1), 0) AS max_client
      FROM (SELECT DISTINCT inp.e, inp.user_id, inp.device_id FROM input inp) d
      JOIN sync_log_heads h ON h.user_id = d.user_id
  ),
  classified AS (
    SELECT inp.*, x.head_seq,
           prev.seq AS replay_seq,
           CASE
             WHEN prev.seq IS NOT NULL THEN 'replay'
             WHEN inp.client_seq <= x.compacted_client THEN 'compacted'
             WHEN other.seq IS NOT NULL AND other.seq > coalesce(inp.base_seq, 0) THEN 'conflict'
             ELSE 'stored'
           END AS outcome,
           x.compacted_seq
      FROM input inp
      JOIN entries x ON x.e = inp.e
      LEFT JOIN LATERAL (
        SELECT s.seq FROM sync_operations s
         WHERE inp.client_seq <= x.max_client
           AND s.user_id = inp.user_id AND s.device_id = inp.device_id AND s.client_seq = inp.client_seq
         LIMIT 1 -- (unique; the LIMIT keeps the planner from turning the probes into a scan)
      ) prev ON true
      LEFT JOIN LATERAL (
        SELECT s.seq FROM sync_operations s
         WHERE NOT inp.mergeable AND s.user_id = inp.user_id AND s.entity = inp.entity AND s.device_id <> inp.device_id
         ORDER BY s.seq DESC LIMIT 1
      ) other ON true
  ),
  numbered AS (
    SELECT c.*, c.head_seq + row_number() OVER (PARTITION BY c.e ORDER BY c.i) AS new_seq
      FROM classified c WHERE c.outcome = 'stored'
  ),
  inserted AS (
    INSERT INTO sync_operations (user_id, device_id, seq, client_seq, base_seq, entity, change_type, body, head, status)
    SELECT v.user_id, v.device_id, v.new_seq, v.client_seq, v.base_seq, v.entity, v.change_type, p_bodies[v.b], v.head,
           CASE WHEN v.change_type <> 'stream.truncate' AND v.new_seq < v.newest_seq THEN 'superseded' ELSE 'applied' END
      FROM (SELECT n.*, max(n.new_seq) OVER (PARTITION BY n.e, n.entity) AS newest_seq FROM numbered n) v
    RETURNING 1
  ),
  superseded AS (
    -- Older versions already in the log (versions in this call are marked as they are
    -- inserted), found per entity through its index. Truncates are never superseded.
    UPDATE sync_operations o SET status = 'superseded'
      FROM (SELECT DISTINCT n.user_id, n.entity, n.head_seq FROM numbered n) w
      CROSS JOIN LATERAL (
        SELECT s.seq, s.status, s.change_type FROM sync_operations s
         WHERE s.user_id = w.user_id AND s.entity = w.entity
         ORDER BY s.seq DESC OFFSET 0
      ) older
     WHERE older.seq <= w.head_seq AND older.status = 'applied' AND older.change_type <> 'stream.truncate'
       AND o.user_id = w.user_id AND o.seq = older.seq
    RETURNING 1
  ),
  bumped AS (
    UPDATE sync_log_heads h SET seq = h.seq + b.n, updated_at = now()
      FROM (SELECT n.user_id, count(*) AS n FROM numbered n GROUP BY n.user_id) b
     WHERE h.user_id = b.user_id
    RETURNING 1
  )
  SELECT x.e, NULL::integer, 'head'::text, x.head_seq,
         NULL::bigint, NULL::uuid, NULL::bigint, NULL::bigint, NULL::text, NULL::json
    FROM entries x
  UNION ALL
  SELECT c.e,
         c.i,
         c.outcome,
         CASE c.outcome WHEN 'replay' THEN c.replay_seq WHEN 'compacted' THEN c.compacted_seq END,
         cur.seq, cur.device_id, cur.client_seq, cur.base_seq, cur.entity, cur.body
    FROM classified c
    LEFT JOIN LATERAL (
      SELECT s.seq, s.device_id, s.client_seq, s.base_seq, s.entity, s.body FROM sync_operations s
       WHERE c.outcome = 'conflict' AND s.user_id = c.user_id AND s.entity = c.entity
       ORDER BY s.seq DESC LIMIT 1
    ) cur ON true
   WHERE c.outcome <> 'stored';
END
$fn$;
