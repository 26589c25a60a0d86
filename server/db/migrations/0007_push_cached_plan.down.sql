-- Back to the push statement of migration 0005 (an EXECUTE, planned on every call).
CREATE OR REPLACE FUNCTION sync_push_changes(p_user uuid, p_device uuid, p_changes json)
RETURNS TABLE (
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
-- Every lookup is an index probe; while the log is small (or its statistics stale) the planner
-- would pick sequential scans, per pushed change inside the LATERAL joins.
SET enable_seqscan = off
AS $fn$
DECLARE
  v_seq              bigint;
  v_compacted_seq    bigint;
  v_compacted_client bigint;
  v_max_client       bigint;
BEGIN
  -- The counter row, locked until the end of the transaction: appends of one user run one at a
  -- time, and every statement below sees what the appends before this one committed.
  SELECT h.seq, h.compacted_seq, coalesce((h.compacted_clients ->> p_device::text)::bigint, 0)
    INTO v_seq, v_compacted_seq, v_compacted_client
    FROM sync_log_heads h WHERE h.user_id = p_user FOR UPDATE;
  IF NOT FOUND THEN
    INSERT INTO sync_log_heads (user_id) VALUES (p_user) ON CONFLICT (user_id) DO NOTHING;
    SELECT h.seq, h.compacted_seq, coalesce((h.compacted_clients ->> p_device::text)::bigint, 0)
      INTO v_seq, v_compacted_seq, v_compacted_client
      FROM sync_log_heads h WHERE h.user_id = p_user FOR UPDATE;
  END IF;
  -- The device's highest stored clientSeq: ORDER BY ... LIMIT 1 is one backward probe whatever
  -- the statistics (max() over stale ones was planned as a walk over all the device's rows).
  v_max_client := coalesce((SELECT s.client_seq FROM sync_operations s
                             WHERE s.user_id = p_user AND s.device_id = p_device
                             ORDER BY s.client_seq DESC LIMIT 1), 0);

  RETURN QUERY SELECT NULL::integer, 'head'::text, v_seq,
                      NULL::bigint, NULL::uuid, NULL::bigint, NULL::bigint, NULL::text, NULL::json;

  -- $1 user, $2 device, $3 changes, $4 counter before, $5 compaction point,
  -- $6 highest compacted clientSeq of the device, $7 highest stored clientSeq of the device.
  RETURN QUERY EXECUTE $sql$
  WITH input AS (
    SELECT r.i, r.client_seq, r.base_seq, r.entity, r.change_type, r.body, r.mergeable
      FROM json_to_recordset($3)
        AS r(i integer, client_seq bigint, base_seq bigint, entity text, change_type text, body json, mergeable boolean)
  ),
  classified AS (
    SELECT inp.*,
           prev.seq AS replay_seq,
           CASE
             WHEN prev.seq IS NOT NULL THEN 'replay'
             WHEN inp.client_seq <= $6 THEN 'compacted'
             WHEN other.seq IS NOT NULL AND other.seq > coalesce(inp.base_seq, 0) THEN 'conflict'
             ELSE 'stored'
           END AS outcome
      FROM input inp
      LEFT JOIN LATERAL (
        SELECT s.seq FROM sync_operations s
         WHERE inp.client_seq <= $7
           AND s.user_id = $1 AND s.device_id = $2 AND s.client_seq = inp.client_seq
         LIMIT 1 -- (unique; the LIMIT keeps the planner from turning the probes into a scan)
      ) prev ON true
      LEFT JOIN LATERAL (
        SELECT s.seq FROM sync_operations s
         WHERE NOT inp.mergeable AND s.user_id = $1 AND s.entity = inp.entity AND s.device_id <> $2
         ORDER BY s.seq DESC LIMIT 1
      ) other ON true
  ),
  numbered AS (
    SELECT c.*, $4 + row_number() OVER (ORDER BY c.i) AS new_seq
      FROM classified c WHERE c.outcome = 'stored'
  ),
  inserted AS (
    INSERT INTO sync_operations (user_id, device_id, seq, client_seq, base_seq, entity, change_type, body, status)
    SELECT $1, $2, v.new_seq, v.client_seq, v.base_seq, v.entity, v.change_type, v.body,
           CASE WHEN v.change_type <> 'stream.truncate' AND v.new_seq < v.newest_seq THEN 'superseded' ELSE 'applied' END
      FROM (SELECT n.*, max(n.new_seq) OVER (PARTITION BY n.entity) AS newest_seq FROM numbered n) v
    RETURNING 1
  ),
  superseded AS (
    -- Older versions already in the log (versions in this push are marked as they are inserted),
    -- found per entity through its index. Truncates are never superseded: an older one still
    -- removes entries a newer one keeps.
    UPDATE sync_operations o SET status = 'superseded'
      FROM (SELECT DISTINCT n.entity FROM numbered n) w
      CROSS JOIN LATERAL (
        SELECT s.seq, s.status, s.change_type FROM sync_operations s
         WHERE s.user_id = $1 AND s.entity = w.entity
         ORDER BY s.seq DESC OFFSET 0
      ) older
     WHERE older.seq <= $4 AND older.status = 'applied' AND older.change_type <> 'stream.truncate'
       AND o.user_id = $1 AND o.seq = older.seq
    RETURNING 1
  ),
  bumped AS (
    UPDATE sync_log_heads h SET seq = h.seq + (SELECT count(*) FROM numbered), updated_at = now()
     WHERE h.user_id = $1 AND EXISTS (SELECT 1 FROM numbered)
    RETURNING 1
  )
  SELECT c.i,
         c.outcome,
         CASE c.outcome WHEN 'replay' THEN c.replay_seq WHEN 'compacted' THEN $5 END,
         cur.seq, cur.device_id, cur.client_seq, cur.base_seq, cur.entity, cur.body
    FROM classified c
    LEFT JOIN LATERAL (
      SELECT s.seq, s.device_id, s.client_seq, s.base_seq, s.entity, s.body FROM sync_operations s
       WHERE c.outcome = 'conflict' AND s.user_id = $1 AND s.entity = c.entity
       ORDER BY s.seq DESC LIMIT 1
    ) cur ON true
   WHERE c.outcome <> 'stored'
   ORDER BY c.i
  $sql$ USING p_user, p_device, p_changes, v_seq, v_compacted_seq, v_compacted_client, v_max_client;
END
$fn$;
