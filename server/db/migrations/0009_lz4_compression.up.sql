-- The big JSON columns (a change's body in the log, a message's content in the read model) are
-- compressed with lz4 instead of pglz where the server has lz4: PostgreSQL 14+ built with it, as
-- the Debian, Ubuntu and Docker packages are. lz4 costs PostgreSQL about half the CPU of pglz per
-- stored byte (a migration stores every message twice) and reads back faster, for ~15% more
-- disk. PGlite (the embedded default) and PostgreSQL 13 have only pglz: there this changes
-- nothing. It applies to values written from now on; stored ones keep theirs until rewritten.
-- EXECUTE: PostgreSQL 13 cannot even parse SET COMPRESSION.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
    EXECUTE 'ALTER TABLE sync_operations ALTER COLUMN body SET COMPRESSION lz4';
    EXECUTE 'ALTER TABLE messages ALTER COLUMN content SET COMPRESSION lz4';
  END IF;
END
$$;
