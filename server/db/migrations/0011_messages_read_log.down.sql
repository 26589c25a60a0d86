-- Undoes 0011_messages_read_log.up.sql: the messages get their copy of each entry back, taken
-- from the log change each row names ('null' where that change is gone), compressed as 0009
-- left it.
CREATE INDEX messages_conversation_created_idx ON messages (conversation_id, created_at DESC);
ALTER TABLE messages ADD COLUMN content json;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
    EXECUTE 'ALTER TABLE messages ALTER COLUMN content SET COMPRESSION lz4';
  END IF;
END
$$;
-- A body holding the escape \u0000 gives 'null' too: PostgreSQL's json functions refuse to take
-- it apart, and the schema before 0011 could not hold it (such pushes failed then).
UPDATE messages m
   SET content = coalesce(
         (SELECT s.body -> 'entry'
            FROM conversations c JOIN sync_operations s ON s.user_id = c.user_id AND s.seq = m.seq
           WHERE c.id = m.conversation_id AND strpos(s.body::text, '\u0000') = 0),
         'null'::json);
ALTER TABLE messages ALTER COLUMN content SET NOT NULL;

DROP FUNCTION sync_push_batch(uuid[], json, json[]);
ALTER TABLE sync_operations DROP COLUMN head;
