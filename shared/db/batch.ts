/**
 * The settings of one cleanup batch's transaction, as one statement (one round trip):
 * - `lock_timeout`: a batch gives up on a lock it cannot get quickly instead of queueing, and
 *   everything behind it, after a migration or a VACUUM FULL; the next batch or run tries again.
 * - `synchronous_commit = off`: the commit does not wait for its WAL to reach disk. A delete lost
 *   to a crash in the next few hundred milliseconds leaves its rows for the next run, and archived
 *   rows that come back are archived again (restore skips rows already present), so nothing is
 *   lost; the wait was ~8 ms a commit, a sixth of a heap-order sweep (measured, `npm run bench`).
 *
 * @example await tx.query(cleanupBatchSettings('500ms'))
 */
export function cleanupBatchSettings(lockTimeout: `${number}ms` | `${number}s`): string {
  return `SET LOCAL lock_timeout = '${lockTimeout}'; SET LOCAL synchronous_commit = off`;
}
