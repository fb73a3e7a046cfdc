import type { Context } from 'aws-lambda';
import { BUDGET_MARGIN_MS } from '../../shared/runtime/budget.js';
import { localContext } from '../../shared/runtime/local-context.js';

/**
 * A Lambda context whose remaining time is `budgetMs` beyond the factory's safety margin, so the
 * service sees a budget of exactly `budgetMs`.
 */
export function lambdaContext(budgetMs = 60_000, functionName = 'chores-test'): Context {
  return localContext({ functionName, remainingMs: BUDGET_MARGIN_MS + budgetMs });
}
