ALTER TABLE message_changes DROP CONSTRAINT message_changes_pkey;
CREATE UNIQUE INDEX message_changes_conversation_seq_key ON message_changes (conversation_id, seq);
ALTER TABLE message_changes ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;

DROP INDEX sync_operations_superseded_idx;
CREATE INDEX sync_operations_status_idx ON sync_operations (user_id, status, created_at);
