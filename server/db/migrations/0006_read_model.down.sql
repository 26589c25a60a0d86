DROP INDEX IF EXISTS file_changes_user_seq_key;
DROP INDEX IF EXISTS message_changes_conversation_seq_key;
CREATE INDEX IF NOT EXISTS message_changes_conversation_idx ON message_changes (conversation_id, seq);
DROP TABLE IF EXISTS read_model_cursors;
