import { describe, expect, it } from 'vitest';
import { jobs } from '../../shared/jobs.js';
import { nextRun, parseSchedule } from '../../shared/schedule/expression.js';

const next = (expression: string, after: string, timezone = 'UTC') =>
  nextRun(parseSchedule(expression, timezone), new Date(after)).toISOString();

describe('cron expressions', () => {
  it.each([
    // expression, timezone, after, expected next run (UTC)
    ['cron(0 3 * * ? *)', 'UTC', '2026-11-21T10:00:00Z', '2026-11-22T03:00:00.000Z'],
    ['cron(0 3 * * ? *)', 'UTC', '2026-11-21T02:59:00Z', '2026-11-21T03:00:00.000Z'],
    ['cron(0 3 * * ? *)', 'UTC', '2026-11-21T03:00:00Z', '2026-11-22T03:00:00.000Z'], // strictly after
    ['cron(30 */6 * * ? *)', 'UTC', '2026-11-21T06:31:00Z', '2026-11-21T12:30:00.000Z'],
    ['cron(0/15 * * * ? *)', 'UTC', '2026-11-21T10:07:00Z', '2026-11-21T10:15:00.000Z'],
    ['cron(0 9 ? * MON-FRI *)', 'UTC', '2026-11-21T10:00:00Z', '2026-11-23T09:00:00.000Z'], // Saturday → Monday
    ['cron(0 9 ? * 2,6 *)', 'UTC', '2026-11-24T10:00:00Z', '2026-11-27T09:00:00.000Z'], // Tue → Fri (2 = MON)
    ['cron(0 12 L * ? *)', 'UTC', '2027-02-01T00:00:00Z', '2027-02-28T12:00:00.000Z'],
    ['cron(0 12 L * ? *)', 'UTC', '2028-02-01T00:00:00Z', '2028-02-29T12:00:00.000Z'], // leap year
    ['cron(0 10 ? * 6#3 *)', 'UTC', '2026-11-01T00:00:00Z', '2026-11-20T10:00:00.000Z'], // third Friday
    ['cron(0 10 ? * 6L *)', 'UTC', '2026-11-01T00:00:00Z', '2026-11-27T10:00:00.000Z'], // last Friday
    ['cron(0 8 15W * ? *)', 'UTC', '2026-11-01T00:00:00Z', '2026-11-16T08:00:00.000Z'], // the 15th is a Sunday
    ['cron(0 0 1 JAN ? 2028)', 'UTC', '2026-11-21T00:00:00Z', '2028-01-01T00:00:00.000Z'],
    ['cron(0 9 * * ? *)', 'America/New_York', '2026-11-21T00:00:00Z', '2026-11-21T14:00:00.000Z'], // EST, UTC-5
    ['cron(0 9 * * ? *)', 'America/New_York', '2026-07-01T00:00:00Z', '2026-07-01T13:00:00.000Z'], // EDT, UTC-4
    ['cron(0 9 * * ? *)', 'Asia/Kolkata', '2026-11-21T00:00:00Z', '2026-11-21T03:30:00.000Z'], // half-hour offset
    ['cron(0 0 * * ? *)', 'Pacific/Auckland', '2026-11-21T00:00:00Z', '2026-11-21T11:00:00.000Z'], // NZDT, UTC+13
  ])('%s in %s after %s fires at %s', (expression, timezone, after, expected) => {
    expect(next(expression, after, timezone)).toBe(expected);
  });

  it('skips a local time that does not exist when clocks spring forward', () => {
    // 14 March 2027, New York: 02:00 EST jumps to 03:00 EDT, so 02:30 never happens that day.
    expect(next('cron(30 2 * * ? *)', '2027-03-13T12:00:00Z', 'America/New_York')).toBe('2027-03-15T06:30:00.000Z');
    // 03:30 exists and is already EDT.
    expect(next('cron(30 3 * * ? *)', '2027-03-13T12:00:00Z', 'America/New_York')).toBe('2027-03-14T07:30:00.000Z');
  });

  it('fires once, at the first occurrence, for a local time repeated when clocks fall back', () => {
    // 7 November 2027, New York: 01:30 happens at 05:30 UTC (EDT) and again at 06:30 UTC (EST).
    expect(next('cron(30 1 * * ? *)', '2027-11-07T05:00:00Z', 'America/New_York')).toBe('2027-11-07T05:30:00.000Z');
    expect(next('cron(30 1 * * ? *)', '2027-11-07T05:31:00Z', 'America/New_York')).toBe('2027-11-08T06:30:00.000Z');
  });

  it('runs an every-minute schedule straight across spring forward, and does not repeat the fallen-back hour', () => {
    expect(next('cron(* * * * ? *)', '2027-03-14T06:59:30Z', 'America/New_York')).toBe('2027-03-14T07:00:00.000Z'); // 01:59 EST → 03:00 EDT
    // 01:59 EDT is followed by 01:00 EST; each of those local minutes already fired once, so the
    // next run is 02:00 EST — Scheduler's documented "runs only once and doesn't repeat".
    expect(next('cron(* * * * ? *)', '2027-11-07T05:59:30Z', 'America/New_York')).toBe('2027-11-07T07:00:00.000Z');
  });
});

describe('rate expressions', () => {
  it('fire at fixed durations from their start, a day being 24 hours across DST', () => {
    const start = new Date('2027-03-13T12:00:00Z');
    expect(nextRun(parseSchedule('rate(5 minutes)'), new Date('2027-03-13T12:07:00Z'), start).toISOString()).toBe(
      '2027-03-13T12:10:00.000Z',
    );
    expect(nextRun(parseSchedule('rate(1 hour)'), start, start).toISOString()).toBe('2027-03-13T13:00:00.000Z');
    expect(nextRun(parseSchedule('rate(1 day)', 'America/New_York'), start, start).toISOString()).toBe('2027-03-14T12:00:00.000Z');
  });
});

describe('schedule errors', () => {
  it.each([
    ['cron(0 3 * * * *)', /exactly one of day-of-month and day-of-week must be "\?"/],
    ['cron(60 3 * * ? *)', /minutes "60": "60" is not in 0-59/],
    ['cron(0 3 * FOO ? *)', /month "FOO"/],
    ['cron(0 3 * *)', /6 fields/],
    ['rate(0 minutes)', /at least 1/],
    ['rate(5 minute)', /use "5 minutes"/],
    ['rate(1 minutes)', /use "1 minute"/],
    ['every day', /neither rate/],
  ])('refuses %s', (expression, message) => {
    expect(() => parseSchedule(expression)).toThrow(message);
  });

  it('refuses an unknown timezone', () => {
    expect(() => parseSchedule('cron(0 3 * * ? *)', 'Mars/Olympus')).toThrow(/unknown timezone "Mars\/Olympus"/);
  });

  it('parses every schedule in the registry', () => {
    for (const job of Object.values(jobs)) expect(() => parseSchedule(job.schedule, job.timezone)).not.toThrow();
  });
});
