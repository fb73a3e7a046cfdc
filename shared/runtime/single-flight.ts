import type { Db } from '../db/pool.js';
import type { SchemaName } from '../db/identifiers.js';
import { budgetUntilAborted, type TimeBudget } from './budget.js';
import { LockLostError } from './errors.js';
import { releaseJobLock, tryJobLock } from './sql.js';

// After the lock is lost, the work is told to stop (its budget ends) and the run fails at once;
// the lock connection is then kept this long for the work to wind down: the batch or webhook
// request already in flight (15 s timeout) finishing, so nothing of this run still runs once the
// handler returns. A service that ignores its budget is not waited on past it.
export const LOCK_LOSS_WIND_DOWN_MS = 20_000;

/** A job lock this invocation holds, as the run holding it sees it. */
export interface JobLock {
  /** Aborted, with a `LockLostError` as its reason, when the lock's database session ends. */
  readonly signal: AbortSignal;
  /**
   * Runs `work` with a budget that also ends when the lock is lost, and rejects with the
   * `LockLostError` at once when it is, without waiting for `work`.
   */
  guard<T>(budget: TimeBudget, work: (budget: TimeBudget) => Promise<T>): Promise<T>;
  /** Gives the lock back (after a loss: waits for guarded work to wind down first); never throws. */
  release(): Promise<void>;
}

/**
 * Takes `job`'s advisory lock if no other invocation holds it; `undefined` if one does. The lock
 * is a session lock on a connection held for the run, so it is released when the run ends, or by
 * Postgres itself if the process dies and the connection drops: no stale lock survives a crash.
 *
 * The session can also end under a live run (failover, proxy idle kill). Postgres then released
 * the lock, so the run must not go on: the loss aborts `lock.signal`, ends the budget handed out
 * by `lock.guard` and rejects it, and the connection's error is handled here rather than crashing
 * the process as an unhandled `'error'` event.
 *
 * @example const lock = await tryTakeJobLock(db, schema, 'results-cleanup'); await lock?.guard(budget, (b) => cleanup(b))
 */
export async function tryTakeJobLock(db: Db, schema: SchemaName, job: string): Promise<JobLock | undefined> {
  const lockClient = await db.connect();
  const lost = new AbortController();
  const onLoss = (cause: Error) => {
    if (!lost.signal.aborted) lost.abort(new LockLostError(job, cause));
  };
  const onEnd = () => onLoss(new Error('the connection closed'));
  lockClient.on('error', onLoss);
  lockClient.on('end', onEnd);
  const detach = (error?: Error) => {
    lockClient.off('error', onLoss);
    lockClient.off('end', onEnd);
    // A lost session is dead: release(error) destroys the client instead of pooling it.
    lockClient.release(error ?? (lost.signal.aborted ? (lost.signal.reason as Error) : undefined));
  };

  let locked = false;
  try {
    locked = (await lockClient.query<{ locked: boolean }>(tryJobLock(schema, job))).rows[0]!.locked;
  } finally {
    if (!locked) detach();
  }
  if (!locked) return undefined;

  const guarded: Promise<unknown>[] = [];
  return {
    signal: lost.signal,
    guard: (budget, work) => {
      const running = work(budgetUntilAborted(budget, lost.signal));
      guarded.push(running);
      return untilAborted(running, lost.signal);
    },
    release: async () => {
      let broken: Error | undefined;
      if (lost.signal.aborted) await settled(guarded, LOCK_LOSS_WIND_DOWN_MS);
      else {
        await lockClient.query(releaseJobLock(schema, job)).catch((error: Error) => {
          broken = error; // the connection is suspect: discard it rather than return it to the pool
        });
      }
      detach(broken);
    },
  };
}

/** `work`'s outcome, or `signal`'s reason as a rejection as soon as it aborts. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Waits until every promise has settled, or `ms` passed, whichever is first. */
async function settled(promises: Promise<unknown>[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([Promise.allSettled(promises), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
