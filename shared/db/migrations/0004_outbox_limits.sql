-- Throttling: a 429 or 503 with Retry-After pauses the whole endpoint, not one delivery. Claims
-- skip an endpoint until paused_until passes, so its pending deliveries wait without being tried.
ALTER TABLE webhook_endpoints ADD COLUMN paused_until timestamptz;

-- Secrets at rest: from now on `secret` and `previous_secret` hold `enc:v1:<key id>:<base64>`
-- (AES-256-GCM under a key from OUTBOX_SECRET_KEYS). SQL cannot encrypt with an application key,
-- so rows written in plain text before this migration are encrypted by `chores migrate` (and the
-- deploy's migration step) once the key is configured, or by `chores endpoints encrypt-secrets`.
COMMENT ON COLUMN webhook_endpoints.secret IS 'enc:v1:<key id>:<base64 iv|ciphertext|tag>; never plain text once OUTBOX_SECRET_KEYS is set';
