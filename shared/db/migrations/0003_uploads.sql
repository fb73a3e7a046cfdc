-- Uploads whose objects live in object storage. Effective expiry is expires_at, else
-- created_at + FILE_UPLOAD_TTL_HOURS (a setting, so it cannot live in an index expression).
CREATE TABLE uploads (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  storage_key  text NOT NULL,
  size_bytes   bigint NOT NULL DEFAULT 0,
  content_type text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz,
  -- uploads-cleanup leases rows while it deletes their objects: concurrent runs skip them, and a
  -- run that crashes after deleting objects leaves rows the next run finds (objects missing) and removes.
  cleanup_leased_until timestamptz
);

-- The two halves of "expired" (and of "expiring soon"), each a range scan.
CREATE INDEX uploads_expires_at_idx ON uploads (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX uploads_ttl_idx ON uploads (created_at) WHERE expires_at IS NULL;
