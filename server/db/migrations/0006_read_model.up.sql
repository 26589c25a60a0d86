-- roo-sync relay schema: the read model's projection cursor (server/projections).
-- conversations, messages, message_changes, workspaces, file_sync_state and file_changes
-- (migration 0001) are a read model of the change log (sync_operations), written only by the
-- projector, which applies each user's log rows after `seq` and moves `seq` in the same
-- transaction. It locks the user's row here (FOR UPDATE SKIP LOCKED), so two relay processes
-- never project one user at once.
-- base_compacted_seq: the log's compaction point when this projection last started from 0.
-- A later compaction point above `seq` means rows the projector had not reached may have been
-- removed: the projector then rebuilds the user's read model from 0 (rebuilds counts them).

CREATE TABLE read_model_cursors (
  user_id            uuid        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  seq                bigint      NOT NULL DEFAULT 0,
  base_compacted_seq bigint      NOT NULL DEFAULT 0,
  rebuilds           integer     NOT NULL DEFAULT 0,
  updated_at         timestamptz NOT NULL DEFAULT now()
);

-- One history row per log change, at most: a projection applied twice fails here instead of
-- writing a duplicate. (Replaces the non-unique index on the same columns.)
DROP INDEX message_changes_conversation_idx;
CREATE UNIQUE INDEX message_changes_conversation_seq_key ON message_changes (conversation_id, seq);
CREATE UNIQUE INDEX file_changes_user_seq_key ON file_changes (user_id, seq);
