import type { SchemaName } from './identifiers.js';

/** An index a migration creates, as `chores doctor` expects to find it. */
export interface ExpectedIndex {
  name: string;
  table: string;
  /** Everything after `ON <table>`: the key columns and the partial-index predicate. */
  on: string;
}

/**
 * Every index the migrations create. Declared rather than parsed out of the migration SQL, and
 * held to the migrations by test/db/indexes.test.ts: it compares this list with the catalog of a
 * freshly migrated database, so a migration that adds, drops or changes an index fails that test
 * until its entry here matches.
 */
export const EXPECTED_INDEXES: readonly ExpectedIndex[] = [
  { name: 'task_results_expires_at_idx', table: 'task_results', on: '(expires_at) WHERE expires_at IS NOT NULL' },
  { name: 'task_results_age_idx', table: 'task_results', on: '((coalesce(date_done, date_created))) WHERE expires_at IS NULL' },
  {
    name: 'task_results_status_age_idx',
    table: 'task_results',
    on: '(status, (coalesce(date_done, date_created))) WHERE expires_at IS NULL',
  },
  {
    name: 'task_results_name_age_idx',
    table: 'task_results',
    on: '(task_name text_pattern_ops, (coalesce(date_done, date_created))) WHERE expires_at IS NULL',
  },
  { name: 'outbox_events_pending_idx', table: 'outbox_events', on: "(id) WHERE status = 'pending'" },
  { name: 'outbox_events_terminal_idx', table: 'outbox_events', on: "(completed_at) WHERE status IN ('delivered', 'failed')" },
  { name: 'webhook_deliveries_due_idx', table: 'webhook_deliveries', on: "(next_attempt_at) WHERE status = 'pending'" },
  { name: 'webhook_deliveries_endpoint_idx', table: 'webhook_deliveries', on: "(endpoint_id) WHERE status = 'pending'" },
  { name: 'uploads_expires_at_idx', table: 'uploads', on: '(expires_at) WHERE expires_at IS NOT NULL' },
  { name: 'uploads_ttl_idx', table: 'uploads', on: '(created_at) WHERE expires_at IS NULL' },
  { name: 'webhook_attempts_endpoint_idx', table: 'webhook_attempts', on: '(endpoint_id, started_at)' },
  { name: 'uploads_storage_key_idx', table: 'uploads', on: '(storage_key)' },
  { name: 'uploads_cleanup_leased_idx', table: 'uploads', on: '(cleanup_leased_until) WHERE cleanup_leased_until IS NOT NULL' },
];

/** The statement that (re)creates an index without blocking writers to its table. */
export function createIndexConcurrently(index: ExpectedIndex, schema: SchemaName): string {
  return `CREATE INDEX CONCURRENTLY ${index.name} ON "${schema}".${index.table} ${index.on};`;
}
