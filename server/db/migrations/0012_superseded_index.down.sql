DROP INDEX sync_operations_superseded_idx;
CREATE INDEX sync_operations_status_idx ON sync_operations (user_id, status, created_at);
