-- The native result store. Columns follow django-celery-results so Celery users recognise them;
-- status values follow Celery. Runs in the chores schema (the runner sets search_path).
CREATE TABLE task_results (
  task_id      text PRIMARY KEY,
  task_name    text,
  status       text NOT NULL DEFAULT 'PENDING'
               CHECK (status IN ('PENDING', 'STARTED', 'RETRY', 'SUCCESS', 'FAILURE', 'REVOKED')),
  result       jsonb,
  traceback    text,
  date_created timestamptz NOT NULL DEFAULT now(),
  date_done    timestamptz,
  -- Set by the producer to override every retention rule.
  expires_at   timestamptz,
  worker       text,
  retries      integer NOT NULL DEFAULT 0,
  meta         jsonb
);

-- Retention age is measured from date_done, or date_created for tasks that never finished.
-- Each retention pass is one of these predicates, and each has an index that makes it a range scan:
--   expires_at pass:           expires_at <= $now
--   catch-all rule:            coalesce(date_done, date_created) < $cutoff
--   status rule:               status = $s AND coalesce(...) < $cutoff
--   task-glob rule:            task_name LIKE 'prefix%' AND coalesce(...) < $cutoff
-- Rows with expires_at set are governed only by it, hence the partial indexes.
CREATE INDEX task_results_expires_at_idx
  ON task_results (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX task_results_age_idx
  ON task_results ((coalesce(date_done, date_created))) WHERE expires_at IS NULL;
CREATE INDEX task_results_status_age_idx
  ON task_results (status, (coalesce(date_done, date_created))) WHERE expires_at IS NULL;
-- text_pattern_ops lets a LIKE 'prefix%' use the index whatever the database collation;
-- it also serves "latest run of chores.<job>" for `chores status`.
CREATE INDEX task_results_name_age_idx
  ON task_results (task_name text_pattern_ops, (coalesce(date_done, date_created))) WHERE expires_at IS NULL;
