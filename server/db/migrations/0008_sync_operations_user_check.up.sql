-- roo-sync relay schema, version 8: the change log's link to its user is checked once per
-- statement instead of once per row.
-- The foreign key sync_operations.user_id -> users ran its check (a query locking the user
-- FOR KEY SHARE) for every inserted row: about a fifth of the backend CPU of a push
-- (`npm run bench -- relay-throughput`: 5.5 ms of 27 per 500 changes). The same guarantees,
-- kept by triggers:
-- * insert: after each statement, the users of the new rows are locked FOR KEY SHARE (a
--   concurrent DELETE of one waits for this transaction, as with the foreign key) and a row
--   whose user does not exist fails the statement with foreign_key_violation (23503);
-- * update of user_id (nothing does it; checked all the same): the same check for the row;
-- * delete of a user: the user's changes go with it (ON DELETE CASCADE).

ALTER TABLE sync_operations DROP CONSTRAINT sync_operations_user_id_fkey;

CREATE OR REPLACE FUNCTION sync_operations_users_exist() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  v_missing uuid;
BEGIN
  PERFORM 1 FROM users u WHERE u.id IN (SELECT DISTINCT n.user_id FROM sync_operations_new n) FOR KEY SHARE;
  SELECT d.user_id INTO v_missing
    FROM (SELECT DISTINCT n.user_id FROM sync_operations_new n) d
   WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = d.user_id)
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'insert or update on table "sync_operations" violates foreign key constraint "sync_operations_user_id_fkey"'
      USING ERRCODE = 'foreign_key_violation', TABLE = 'sync_operations', CONSTRAINT = 'sync_operations_user_id_fkey',
            DETAIL = format('Key (user_id)=(%s) is not present in table "users".', v_missing);
  END IF;
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION sync_operations_user_exists() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM 1 FROM users u WHERE u.id = NEW.user_id FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'insert or update on table "sync_operations" violates foreign key constraint "sync_operations_user_id_fkey"'
      USING ERRCODE = 'foreign_key_violation', TABLE = 'sync_operations', CONSTRAINT = 'sync_operations_user_id_fkey',
            DETAIL = format('Key (user_id)=(%s) is not present in table "users".', NEW.user_id);
  END IF;
  RETURN NEW;
END
$fn$;

CREATE OR REPLACE FUNCTION users_delete_sync_operations() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  DELETE FROM sync_operations WHERE user_id = OLD.id;
  RETURN NULL;
END
$fn$;

CREATE TRIGGER sync_operations_users_exist
  AFTER INSERT ON sync_operations
  REFERENCING NEW TABLE AS sync_operations_new
  FOR EACH STATEMENT EXECUTE FUNCTION sync_operations_users_exist();

CREATE TRIGGER sync_operations_user_exists
  BEFORE UPDATE OF user_id ON sync_operations
  FOR EACH ROW WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id) EXECUTE FUNCTION sync_operations_user_exists();

CREATE TRIGGER users_delete_sync_operations
  AFTER DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION users_delete_sync_operations();
