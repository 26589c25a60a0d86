DROP FUNCTION IF EXISTS sync_append_changes(uuid, uuid, json);
