/**
 * When a failed delivery is next tried. The one place backoff is decided.
 *
 * Jitter spreads retries of many deliveries that failed together (an endpoint outage) so they
 * do not return as one thundering herd: each delay is scaled by a random factor in [0.8, 1.2].
 */
const JITTER = 0.2;
// A Retry-After is honoured up to a day: past that it is more likely a misconfigured header than a
// plan, and the delivery would outlive its retry schedule anyway.
export const MAX_RETRY_AFTER_MS = 86_400_000;

export type RetryDecision = { retry: true; delayMs: number } | { retry: false };

/**
 * @param attempts attempts made so far, this one included (1 after the first failure)
 * @param retryAfterMs the receiver's Retry-After, when it sent one with 429/502/503/504
 * @example nextRetry([5000, 300000], 1) // → { retry: true, delayMs: ~5000 }
 */
export function nextRetry(schedule: number[], attempts: number, retryAfterMs?: number, random = Math.random): RetryDecision {
  const base = schedule[attempts - 1];
  if (base === undefined) return { retry: false };
  const jittered = Math.round(base * (1 - JITTER + 2 * JITTER * random()));
  const floor = retryAfterMs === undefined ? 0 : Math.min(retryAfterMs, MAX_RETRY_AFTER_MS);
  return { retry: true, delayMs: Math.max(jittered, floor) };
}

/** Parses a Retry-After header: delta-seconds or an HTTP date. Undefined when absent or unreadable. */
export function parseRetryAfter(header: string | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
