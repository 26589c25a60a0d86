-- Undoes 0001_initial.up.sql: drops every table it created, dependents first.
DROP TABLE IF EXISTS blobs;
DROP TABLE IF EXISTS audit_log;
DROP TABLE IF EXISTS command_queue;
DROP TABLE IF EXISTS offline_operations;
DROP TABLE IF EXISTS sync_operations;
DROP TABLE IF EXISTS sync_log_heads;
DROP TABLE IF EXISTS file_changes;
DROP TABLE IF EXISTS file_sync_state;
DROP TABLE IF EXISTS message_changes;
DROP TABLE IF EXISTS messages;
DROP TABLE IF EXISTS conversations;
DROP TABLE IF EXISTS workspaces;
DROP TABLE IF EXISTS sessions;
DROP TABLE IF EXISTS devices;
DROP TABLE IF EXISTS users;
