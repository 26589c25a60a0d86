-- roo-sync relay schema, version 1. PostgreSQL 13+ and PGlite run the same statements.
-- Ids issued by the relay are uuid; ids chosen by clients (task ids, workspace ids) are text.
-- Timestamps are timestamptz; metadata is JSONB. Indexes are separate statements.

-- Accounts ---------------------------------------------------------------------------

CREATE TABLE users (
  id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  email         text        NOT NULL,
  password_hash text        NOT NULL,              -- scrypt, never the password
  display_name  text,
  role          text        NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
  metadata      jsonb       NOT NULL DEFAULT '{}'::jsonb,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  disabled_at   timestamptz
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE devices (
  id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id        uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name           text        NOT NULL,
  platform       text,
  client_version text,
  metadata       jsonb       NOT NULL DEFAULT '{}'::jsonb,
  created_at     timestamptz NOT NULL DEFAULT now(),
  last_seen_at   timestamptz,
  revoked_at     timestamptz                        -- a revoked device's sockets end at once
);
CREATE INDEX devices_user_idx ON devices (user_id, created_at);

-- Refresh tokens: one row per issued token, stored as a hash. Rotation links a family; reuse
-- of a rotated token revokes the whole family.
CREATE TABLE sessions (
  id                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id            uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  device_id          uuid        NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  family_id          uuid        NOT NULL,
  refresh_token_hash text        NOT NULL,
  expires_at         timestamptz NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  last_used_at       timestamptz,
  rotated_at         timestamptz,                   -- replaced by a newer token of the family
  revoked_at         timestamptz,
  revoke_reason      text,
  user_agent         text,
  ip                 text,
  metadata           jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE UNIQUE INDEX sessions_refresh_token_hash_key ON sessions (refresh_token_hash);
CREATE INDEX sessions_active_idx ON sessions (user_id, device_id, expires_at)
  WHERE revoked_at IS NULL AND rotated_at IS NULL;
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_device_idx ON sessions (device_id);
CREATE INDEX sessions_family_idx ON sessions (family_id);

-- Synced state -----------------------------------------------------------------------

CREATE TABLE workspaces (
  user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  id         text        NOT NULL,
  name       text,
  metadata   jsonb       NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz,
  PRIMARY KEY (user_id, id)
);

-- Tasks of the assistants. `metadata` is the HistoryItem, `field_clocks` one HLC stamp per
-- field; a deleted task keeps its row as a tombstone (`deleted_at`).
CREATE TABLE conversations (
  id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  source       text        NOT NULL CHECK (source IN ('roo-code', 'zoo-code', 'kilo-code', 'cline')),
  task_id      text        NOT NULL,
  workspace_id text,                                -- informational; tasks outlive workspaces
  metadata     jsonb       NOT NULL DEFAULT '{}'::jsonb,
  field_clocks jsonb       NOT NULL DEFAULT '{}'::jsonb,
  head_seq     bigint      NOT NULL DEFAULT 0,      -- log seq of the latest change to the task
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  deleted_at   timestamptz
);
CREATE UNIQUE INDEX conversations_task_key ON conversations (user_id, source, task_id);
CREATE INDEX conversations_user_updated_idx ON conversations (user_id, updated_at DESC);

-- Task stream entries (ui_messages.json / api_conversation_history.json), one row per key.
-- key_major/key_minor order keys numerically (ui: ts, occurrence; api: position, 0).
CREATE TABLE messages (
  conversation_id uuid        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  stream          text        NOT NULL CHECK (stream IN ('ui', 'api')),
  entry_key       text        NOT NULL,
  key_major       bigint      NOT NULL,
  key_minor       integer     NOT NULL DEFAULT 0,
  content_hash    text        NOT NULL,
  content         json        NOT NULL,               -- json: kept as sent (its hash covers the text)
  seq             bigint      NOT NULL,             -- log seq of the change that wrote this version
  device_id       uuid,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (conversation_id, stream, entry_key)
);
CREATE INDEX messages_conversation_created_idx ON messages (conversation_id, created_at DESC);
CREATE INDEX messages_stream_order_idx ON messages (conversation_id, stream, key_major, key_minor);

-- History of stream-entry changes (puts and truncates) per task.
CREATE TABLE message_changes (
  id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  conversation_id uuid        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  stream          text        NOT NULL CHECK (stream IN ('ui', 'api')),
  entry_key       text,                             -- null: a truncate of the whole stream
  change_type     text        NOT NULL CHECK (change_type IN ('put', 'truncate')),
  content_hash    text,
  seq             bigint      NOT NULL,
  device_id       uuid,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX message_changes_conversation_idx ON message_changes (conversation_id, seq);

-- Latest known version of every workspace file.
CREATE TABLE file_sync_state (
  user_id      uuid        NOT NULL,
  workspace_id text        NOT NULL,
  path         text        NOT NULL,
  content_hash text,                                -- null when deleted
  size         bigint      NOT NULL DEFAULT 0 CHECK (size >= 0),
  mode         integer,
  mtime_ms     bigint,
  is_binary    boolean     NOT NULL DEFAULT false,
  deleted      boolean     NOT NULL DEFAULT false,
  sync_status  text        NOT NULL DEFAULT 'synced' CHECK (sync_status IN ('synced', 'pending', 'conflict')),
  seq          bigint,
  device_id    uuid,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, workspace_id, path),
  FOREIGN KEY (user_id, workspace_id) REFERENCES workspaces (user_id, id) ON DELETE CASCADE
);
CREATE INDEX file_sync_state_status_idx ON file_sync_state (user_id, sync_status, updated_at);

-- Every accepted file version (history behind file_sync_state).
CREATE TABLE file_changes (
  id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id      uuid        NOT NULL,
  workspace_id text        NOT NULL,
  path         text        NOT NULL,
  change_type  text        NOT NULL CHECK (change_type IN ('put', 'delete')),
  content_hash text,
  size         bigint,
  seq          bigint      NOT NULL,
  device_id    uuid,
  created_at   timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (user_id, workspace_id) REFERENCES workspaces (user_id, id) ON DELETE CASCADE
);
CREATE INDEX file_changes_path_idx ON file_changes (user_id, workspace_id, path, seq DESC);

-- The per-user change log ------------------------------------------------------------

-- One counter row per user: appends take the next numbers with UPDATE ... SET seq = seq + n
-- inside their transaction, so numbers commit in order and a reader never sees a gap.
-- compacted_seq: changes at or below it may have been compacted away (a device behind it resyncs).
CREATE TABLE sync_log_heads (
  user_id       uuid        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  seq           bigint      NOT NULL DEFAULT 0,
  compacted_seq bigint      NOT NULL DEFAULT 0,
  compacted_at  timestamptz,
  -- device id -> highest client_seq compacted away: a late replay of one is acknowledged, not re-applied
  compacted_clients jsonb   NOT NULL DEFAULT '{}'::jsonb,
  updated_at    timestamptz NOT NULL DEFAULT now()
);

-- The change log itself. status 'superseded': a later change to the same entity exists
-- (compaction removes those). device_id has no foreign key: the log outlives devices.
-- body is json, not jsonb: it is sent back byte for byte (key order matters to content hashes).
CREATE TABLE sync_operations (
  user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  seq         bigint      NOT NULL,
  device_id   uuid        NOT NULL,
  client_seq  bigint      NOT NULL,
  entity      text        NOT NULL,
  change_type text        NOT NULL CHECK (change_type IN
                ('task.meta', 'task.delete', 'stream.put', 'stream.truncate', 'file.put', 'file.delete')),
  base_seq    bigint,
  body        json        NOT NULL,
  status      text        NOT NULL DEFAULT 'applied' CHECK (status IN ('applied', 'superseded')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, seq)
);
CREATE UNIQUE INDEX sync_operations_client_key ON sync_operations (user_id, device_id, client_seq);
CREATE INDEX sync_operations_status_idx ON sync_operations (user_id, status, created_at);
CREATE INDEX sync_operations_entity_idx ON sync_operations (user_id, entity, seq DESC);

-- Changes a device queued while offline and replayed later (diagnostics and replay tracking).
CREATE TABLE offline_operations (
  id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  device_id   uuid        NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  client_seq  bigint      NOT NULL,
  queued_at   timestamptz,                          -- device clock
  received_at timestamptz NOT NULL DEFAULT now(),
  status      text        NOT NULL DEFAULT 'received' CHECK (status IN ('received', 'applied', 'conflict', 'rejected')),
  seq         bigint,
  error_code  text,
  metadata    jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE UNIQUE INDEX offline_operations_client_key ON offline_operations (device_id, client_seq);
CREATE INDEX offline_operations_user_status_idx ON offline_operations (user_id, status, received_at);

-- Remote control -----------------------------------------------------------------------

CREATE TABLE command_queue (
  id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id          uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  source_device_id uuid        REFERENCES devices (id) ON DELETE SET NULL,
  target_device_id uuid        NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  kind             text        NOT NULL CHECK (kind IN
                     ('task.start', 'task.message', 'task.approve', 'task.deny', 'task.cancel', 'task.resume')),
  payload          jsonb       NOT NULL DEFAULT '{}'::jsonb,
  priority         integer     NOT NULL DEFAULT 0,
  status           text        NOT NULL DEFAULT 'queued' CHECK (status IN
                     ('queued', 'delivered', 'progress', 'done', 'failed', 'expired', 'cancelled')),
  attempts         integer     NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  expires_at       timestamptz NOT NULL,
  delivered_at     timestamptz,
  completed_at     timestamptz,
  result           jsonb,
  error            jsonb,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX command_queue_target_idx ON command_queue (target_device_id, status);
CREATE INDEX command_queue_pending_idx ON command_queue (target_device_id, priority DESC, created_at)
  WHERE status IN ('queued', 'delivered');
CREATE INDEX command_queue_due_idx ON command_queue (next_attempt_at)
  WHERE status IN ('queued', 'delivered');
CREATE INDEX command_queue_user_idx ON command_queue (user_id, created_at DESC);
CREATE INDEX command_queue_source_idx ON command_queue (source_device_id);

-- Operations ---------------------------------------------------------------------------

-- Security-relevant events. Rows outlive the user and device they name.
CREATE TABLE audit_log (
  id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id    uuid        REFERENCES users (id) ON DELETE SET NULL,
  device_id  uuid        REFERENCES devices (id) ON DELETE SET NULL,
  action     text        NOT NULL,
  outcome    text        NOT NULL DEFAULT 'ok' CHECK (outcome IN ('ok', 'denied', 'error')),
  ip         text,
  user_agent text,
  metadata   jsonb       NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_user_idx ON audit_log (user_id, created_at DESC);
CREATE INDEX audit_log_device_idx ON audit_log (device_id);
CREATE INDEX audit_log_action_idx ON audit_log (action, created_at DESC);

-- Content-addressed blobs a user has stored (sha256 hex). The bytes live in the blob store
-- (`storage_key`), or inline in `content` for the embedded setup.
CREATE TABLE blobs (
  user_id          uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  hash             text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  size             bigint      NOT NULL CHECK (size >= 0),
  storage_key      text,
  content          bytea,
  created_at       timestamptz NOT NULL DEFAULT now(),
  last_accessed_at timestamptz,
  PRIMARY KEY (user_id, hash),
  CHECK (storage_key IS NOT NULL OR content IS NOT NULL)
);
