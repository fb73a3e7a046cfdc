import { describe, expect, it } from 'vitest';
import { nextRetry, parseRetryAfter } from '../../shared/outbox/backoff.js';

const schedule = [5_000, 300_000];

describe('retry backoff', () => {
  it('follows the schedule with jitter of at most ±20%', () => {
    expect(nextRetry(schedule, 1, undefined, () => 0)).toEqual({ retry: true, delayMs: 4_000 });
    expect(nextRetry(schedule, 1, undefined, () => 1)).toEqual({ retry: true, delayMs: 6_000 });
    expect(nextRetry(schedule, 2, undefined, () => 0.5)).toEqual({ retry: true, delayMs: 300_000 });
  });

  it('stops when the schedule is exhausted', () => {
    expect(nextRetry(schedule, 3)).toEqual({ retry: false });
  });

  it('never retries sooner than Retry-After, and clamps it to a day', () => {
    expect(nextRetry(schedule, 1, 60_000, () => 0.5)).toEqual({ retry: true, delayMs: 60_000 });
    expect(nextRetry(schedule, 1, 30 * 86_400_000, () => 0.5)).toEqual({ retry: true, delayMs: 86_400_000 });
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-11-21T12:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Sat, 21 Nov 2026 12:05:00 GMT', now)).toBe(300_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});
