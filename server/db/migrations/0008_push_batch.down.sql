-- Relays before version 8 push through sync_push_changes alone.
DROP FUNCTION sync_push_batch(uuid[], json);
