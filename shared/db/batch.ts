/**
 * The settings of one cleanup batch's transaction, sent with its BEGIN (one round trip, see
 * `inTransaction`):
 * - `lock_timeout`: a batch gives up on a lock it cannot get quickly instead of queueing, and
 *   everything behind it, after a migration or a VACUUM FULL; the next batch or run tries again.
 * - `synchronous_commit = off`: the commit does not wait for its WAL to reach disk. A delete lost
 *   to a crash in the next few hundred milliseconds leaves its rows for the next run, and archived
 *   rows that come back are archived again (restore skips rows already present), so nothing is
 *   lost; the wait was ~8 ms a commit, a sixth of a heap-order sweep (measured, `npm run bench`).
 * - `indexWalk`: seq scans and bitmap scans off, pinning the ordered index walk that LIMIT cuts
 *   short. Given a bounded age range the planner prefers a bitmap scan or a seq scan plus sort,
 *   which reads the whole remaining range on every batch (measured: batches at 420 ms shrinking as
 *   rows ran out, against 40–70 ms).
 *
 * @example await inTransaction(db, work, cleanupBatchSettings('500ms'))
 */
export function cleanupBatchSettings(lockTimeout: `${number}ms` | `${number}s`, options: { indexWalk?: boolean } = {}): string {
  const pin = options.indexWalk ? '; SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off' : '';
  return `SET LOCAL lock_timeout = '${lockTimeout}'; SET LOCAL synchronous_commit = off${pin}`;
}
