import { nextRetry } from './backoff.js';
import type { SendOutcome } from './http.js';
import type { ClaimedDelivery, DeliveryResult } from './sql.js';

/** What one attempt's outcome means for its delivery: delivered, retry later, or failed for good. */
export function decide(claimed: ClaimedDelivery, outcome: SendOutcome, schedule: number[]): DeliveryResult {
  const base = {
    id: claimed.id,
    attempt: claimed.attempts,
    statusCode: outcome.status ?? null,
    response: outcome.response ?? null,
  };
  if (outcome.kind === 'delivered') return { ...base, status: 'delivered', delayMs: 0, error: null };
  if (outcome.kind === 'gone')
    return { ...base, status: 'failed', delayMs: 0, error: 'HTTP 410 Gone: the endpoint asked to be unsubscribed' };
  // A refused URL or an oversized payload fails at once: no retry can change the answer.
  if (outcome.kind === 'refused' || outcome.kind === 'undeliverable')
    return { ...base, status: 'failed', delayMs: 0, error: outcome.error };
  const error = outcome.kind === 'throttled' ? `HTTP ${outcome.status}` : outcome.error;
  // A replay starts a fresh retry cycle: the schedule counts this cycle's attempts only.
  const cycleAttempts = claimed.attempts - claimed.retry_base;
  const retry = nextRetry(schedule, cycleAttempts, outcome.kind === 'throttled' ? outcome.retryAfterMs : undefined);
  if (!retry.retry) return { ...base, status: 'failed', delayMs: 0, error: `${error} (retries exhausted after ${cycleAttempts} attempts)` };
  return { ...base, status: 'pending', delayMs: retry.delayMs, error };
}
