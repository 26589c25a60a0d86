-- Undoes 0009_lz4_compression.up.sql: the columns take the server's default method again.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
    EXECUTE 'ALTER TABLE sync_operations ALTER COLUMN body SET COMPRESSION default';
    EXECUTE 'ALTER TABLE messages ALTER COLUMN content SET COMPRESSION default';
  END IF;
END
$$;
