DROP INDEX IF EXISTS command_queue_finished_idx;
DROP INDEX IF EXISTS command_queue_expiry_idx;
