DROP FUNCTION IF EXISTS sync_push_changes(uuid, uuid, json);
