-- roo-sync relay schema: resumable blob uploads (PUT /v1/blobs/:sha256 with Content-Range).
-- One row per user and blob hash being uploaded in chunks; its bytes so far are kept in
-- CHUNK_BYTES-aligned pieces (server/blobs/blob-uploads.ts), so that on completion the pieces
-- become the blob's own piece rows in `blobs` without passing through the relay again.
-- In the database, not on a relay's disk: the next chunk may reach another relay process.
-- `received` always equals the bytes held in the pieces; it only grows under a row lock.
-- Expired uploads are ignored at once and deleted by the retention job (expires_at index).

CREATE TABLE blob_uploads (
  user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  hash        text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  total_size  bigint      NOT NULL CHECK (total_size > 0),
  received    bigint      NOT NULL DEFAULT 0 CHECK (received >= 0 AND received <= total_size),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  PRIMARY KEY (user_id, hash)
);
CREATE INDEX blob_uploads_expires_idx ON blob_uploads (expires_at);

CREATE TABLE blob_upload_pieces (
  user_id  uuid    NOT NULL,
  hash     text    NOT NULL,
  piece    integer NOT NULL CHECK (piece >= 0),
  content  bytea   NOT NULL,
  PRIMARY KEY (user_id, hash, piece),
  FOREIGN KEY (user_id, hash) REFERENCES blob_uploads (user_id, hash) ON DELETE CASCADE
);
