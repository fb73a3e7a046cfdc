const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const DURATION = /^(\d+)(s|m|h|d|w)$/;

/** Parses `0s`, `90m`, `36h`, `7d`, `2w` into milliseconds; throws a message fit for a config error. */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim());
  if (!match) throw new Error(`bad duration "${text}" — use a whole number with s, m, h, d or w (e.g. 0s, 90m, 36h, 7d)`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/**
 * A point in time given as an ISO 8601 timestamp (`2026-11-21T08:00Z`, `2026-11-21`) or as a
 * duration ago (`24h`, `7d`). Throws naming what was given.
 *
 * @example parseTimeOrAgo('24h') // → the Date 24 hours before now
 */
export function parseTimeOrAgo(text: string, now = Date.now()): Date {
  if (DURATION.test(text.trim())) return new Date(now - parseDuration(text));
  const at = Date.parse(text);
  if (Number.isNaN(at))
    throw new Error(`bad time "${text}" — use an ISO 8601 time (2026-11-21T08:00:00Z) or a duration ago (90m, 24h, 7d)`);
  return new Date(at);
}
