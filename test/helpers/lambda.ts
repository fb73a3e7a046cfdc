import type { Context } from 'aws-lambda';
import { vi } from 'vitest';
import { BUDGET_MARGIN_MS } from '../../shared/runtime/budget.js';
import { localContext } from '../../shared/runtime/local-context.js';

/**
 * A Lambda context whose remaining time is `budgetMs` beyond the factory's safety margin, so the
 * service sees a budget of exactly `budgetMs`.
 */
export function lambdaContext(budgetMs = 60_000, functionName = 'chores-test'): Context {
  return localContext({ functionName, remainingMs: BUDGET_MARGIN_MS + budgetMs });
}

/**
 * A job's real Lambda entry as a cold container loads it: the module graph imported afresh under
 * `env` (stubbed until the test calls `vi.unstubAllEnvs()`), with Powertools' logs and metrics quiet.
 *
 * @example const handler = await freshEntry(() => import('../../functions/results-cleanup.js'), { DATABASE_URL: url })
 */
export async function freshEntry<Entry>(load: () => Promise<{ handler: Entry }>, env: Record<string, string>): Promise<Entry> {
  for (const [name, value] of Object.entries({ POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true', ...env }))
    vi.stubEnv(name, value);
  vi.resetModules();
  return (await load()).handler;
}
