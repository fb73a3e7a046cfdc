/** How long a run may keep starting new work. Services check it between batches. */
export interface TimeBudget {
  expired(): boolean;
  remainingMs(): number;
}

// Held back from the Lambda's remaining time: one more batch already under way (each kept well
// under a second), counting what is left, recording the run and flushing metrics. Ten seconds
// covers a slow archive upload too, and is small against the jobs' multi-minute timeouts.
export const BUDGET_MARGIN_MS = 10_000;

export function budgetUntil(deadline: number, clock: () => number = Date.now): TimeBudget {
  return {
    expired: () => clock() >= deadline,
    remainingMs: () => Math.max(0, deadline - clock()),
  };
}

/** The budget for a Lambda invocation: its remaining time less `BUDGET_MARGIN_MS`. */
export function budgetFromContext(context: { getRemainingTimeInMillis(): number }): TimeBudget {
  return budgetUntil(Date.now() + Math.max(0, context.getRemainingTimeInMillis() - BUDGET_MARGIN_MS));
}

/**
 * `budget`, ended early when `signal` aborts (the job lock was lost): services already stop
 * taking batches when their budget expires, so they stop here too, without knowing why.
 */
export function budgetUntilAborted(budget: TimeBudget, signal: AbortSignal): TimeBudget {
  return {
    expired: () => signal.aborted || budget.expired(),
    remainingMs: () => (signal.aborted ? 0 : budget.remainingMs()),
  };
}

/** A budget that never ends, for benchmarks and tools that run to completion. */
export const UNLIMITED_BUDGET: TimeBudget = { expired: () => false, remainingMs: () => Number.POSITIVE_INFINITY };
