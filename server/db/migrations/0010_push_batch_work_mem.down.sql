-- Undoes 0010_push_batch_work_mem.up.sql: sync_push_batch runs with the session's work_mem again.
ALTER FUNCTION sync_push_batch(uuid[], json) RESET work_mem;
