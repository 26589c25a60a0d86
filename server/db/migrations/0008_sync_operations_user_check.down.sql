DROP TRIGGER IF EXISTS users_delete_sync_operations ON users;
DROP TRIGGER IF EXISTS sync_operations_user_exists ON sync_operations;
DROP TRIGGER IF EXISTS sync_operations_users_exist ON sync_operations;
DROP FUNCTION IF EXISTS users_delete_sync_operations();
DROP FUNCTION IF EXISTS sync_operations_user_exists();
DROP FUNCTION IF EXISTS sync_operations_users_exist();
ALTER TABLE sync_operations
  ADD CONSTRAINT sync_operations_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
