-- uploads-cleanup never deletes an object that another unexpired upload still references (two
-- rows sharing a storage_key); this index makes that check one index probe per claimed row.
CREATE INDEX uploads_storage_key_idx ON uploads (storage_key);

-- Rows a run leased and then left behind (its process died between deleting the objects and
-- the rows): the next run finds them here, and removes at once those whose objects are gone,
-- instead of waiting out the lease. Leased rows are few and short-lived, so the index stays small.
CREATE INDEX uploads_cleanup_leased_idx ON uploads (cleanup_leased_until) WHERE cleanup_leased_until IS NOT NULL;

-- The event type rule `publish` enforces, for producers that insert with SQL: 1 to 200
-- characters, no control characters. NOT VALID: it holds for every new or updated row, while
-- rows written before it are not checked (a migration must not fail on old data). After cleaning
-- any such rows, `ALTER TABLE outbox_events VALIDATE CONSTRAINT outbox_events_event_type_check`
-- checks them too without blocking writers.
ALTER TABLE outbox_events ADD CONSTRAINT outbox_events_event_type_check
  CHECK (char_length(event_type) BETWEEN 1 AND 200 AND event_type !~ '[\u0001-\u001f\u007f-\u009f]') NOT VALID;
