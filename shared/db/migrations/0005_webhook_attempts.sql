-- Webhook operations: one row per POST, so an operator can see what every attempt got back, and
-- deliveries that can be put back in line (replay) without losing that history.
CREATE TABLE webhook_attempts (
  -- Attempts go with their delivery, and so with their event when outbox-cleanup deletes it.
  delivery_id  bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  -- The delivery's attempt counter when this POST was made; it only grows, replays included.
  attempt      integer NOT NULL,
  event_id     bigint NOT NULL,
  endpoint_id  bigint NOT NULL,
  -- What started the run that made the POST.
  trigger      text NOT NULL CHECK (trigger IN ('sweep', 'fast-path', 'replay')),
  -- What the attempt meant for its delivery. superseded: the lease had been lost (the run ran past
  -- it, or the endpoint was disabled meanwhile), so this outcome was not applied.
  outcome      text NOT NULL CHECK (outcome IN ('delivered', 'retry', 'failed', 'superseded')),
  started_at   timestamptz NOT NULL,
  duration_ms  integer NOT NULL,
  status_code  integer,
  error        text,
  -- The start of the response body (a few hundred bytes), enough to read an error page's message.
  response     text,
  PRIMARY KEY (delivery_id, attempt)
);
-- `chores endpoints stats` reads one endpoint's attempts over a window.
CREATE INDEX webhook_attempts_endpoint_idx ON webhook_attempts (endpoint_id, started_at);

-- Attempts made before the delivery's current retry cycle. A replay starts a fresh cycle without
-- resetting `attempts` (the lease's fencing token must never repeat), so backoff counts from here.
ALTER TABLE webhook_deliveries ADD COLUMN retry_base integer NOT NULL DEFAULT 0;
