-- The read model's messages no longer hold a copy of each entry: a row names the log change
-- that wrote its current version (seq), and the messages route reads the entry from that
-- change's body (sync_operations.body -> 'entry', the text as sent). Every entry was stored
-- twice (the log and this copy), and projecting it meant reading the body back, parsing it,
-- serialising the entry and sending it to PostgreSQL again: during a migration that was about
-- a third of the relay's and PostgreSQL's work. Compaction keeps every log row a message row
-- names (server/db/change-log.ts `compactLog`).
ALTER TABLE messages DROP COLUMN content;
