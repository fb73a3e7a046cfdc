import { ChoresError } from '../errors.js';

/**
 * EventBridge Scheduler expressions, evaluated the way Scheduler does, so the local runner fires
 * jobs when the deployed schedules would:
 * - `rate(value unit)`: a fixed duration (a "day" is 24 h even across DST).
 * - `cron(minutes hours day-of-month month day-of-week year)` in the schedule's IANA timezone.
 *   Exactly one of day-of-month and day-of-week is `?`. A local time that does not exist (spring
 *   forward) is skipped; one that happens twice (fall back) fires once, at its first occurrence.
 */
export class ScheduleExpressionError extends ChoresError {}

export type Schedule = { kind: 'rate'; everyMs: number } | { kind: 'cron'; cron: CronFields; timezone: string };

interface CronFields {
  minutes: Set<number>;
  hours: Set<number>;
  months: Set<number>;
  years: Set<number> | undefined;
  dayOfMonth: DayOfMonth;
  dayOfWeek: DayOfWeek;
}
type DayOfMonth = { any: true } | { days: Set<number>; last: boolean; nearestWeekday?: number };
type DayOfWeek = { any: true } | { days: Set<number>; lastOf?: number; nth?: { day: number; n: number } };

const UNIT_MS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT']; // EventBridge: SUN = 1
// Far enough for any expression with a year list (EventBridge allows years up to 2199).
const SEARCH_DAYS = 366 * 200;

/** Parses a schedule expression; throws `ScheduleExpressionError` naming what is wrong. */
export function parseSchedule(expression: string, timezone = 'UTC'): Schedule {
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (rate) {
    const value = Number(rate[1]);
    const unit = rate[2]!;
    if (value < 1) throw new ScheduleExpressionError(`${expression}: the rate must be at least 1`);
    if ((value === 1) !== !unit.endsWith('s')) {
      throw new ScheduleExpressionError(
        `${expression}: use "${value} ${value === 1 ? unit.replace(/s$/, '') : `${unit.replace(/s$/, '')}s`}" (Scheduler requires the singular for 1 only)`,
      );
    }
    return { kind: 'rate', everyMs: value * UNIT_MS[unit.replace(/s$/, '')]! };
  }
  const cron = /^cron\((.+)\)$/.exec(expression);
  if (!cron) throw new ScheduleExpressionError(`"${expression}" is neither rate(…) nor cron(…)`);
  const fields = cron[1]!.trim().split(/\s+/);
  if (fields.length !== 6)
    throw new ScheduleExpressionError(
      `${expression}: cron takes 6 fields (minutes hours day-of-month month day-of-week year), got ${fields.length}`,
    );
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw new ScheduleExpressionError(`unknown timezone "${timezone}" — use an IANA name such as Europe/Paris`);
  }
  const [min, hour, dom, month, dow, year] = fields as [string, string, string, string, string, string];
  if ((dom === '?') === (dow === '?')) {
    throw new ScheduleExpressionError(`${expression}: exactly one of day-of-month and day-of-week must be "?"`);
  }
  const at = (field: string, what: string, lo: number, hi: number, names?: string[]) => {
    try {
      return parseList(field, lo, hi, names);
    } catch (error) {
      throw new ScheduleExpressionError(`${expression}: ${what} "${field}": ${(error as Error).message}`);
    }
  };
  return {
    kind: 'cron',
    timezone,
    cron: {
      minutes: at(min, 'minutes', 0, 59),
      hours: at(hour, 'hours', 0, 23),
      months: at(month, 'month', 1, 12, MONTHS),
      years: year === '*' ? undefined : at(year, 'year', 1970, 2199),
      dayOfMonth: dom === '?' ? { any: true } : parseDayOfMonth(dom, (f) => at(f, 'day-of-month', 1, 31), expression),
      dayOfWeek: dow === '?' ? { any: true } : parseDayOfWeek(dow, (f) => at(f, 'day-of-week', 1, 7, WEEKDAYS), expression),
    },
  };
}

function parseDayOfMonth(field: string, list: (f: string) => Set<number>, expression: string): DayOfMonth {
  if (field === 'L') return { days: new Set(), last: true };
  const weekday = /^(\d{1,2})W$/.exec(field);
  if (weekday) {
    const day = Number(weekday[1]);
    if (day < 1 || day > 31) throw new ScheduleExpressionError(`${expression}: day-of-month "${field}" is out of 1-31`);
    return { days: new Set(), last: false, nearestWeekday: day };
  }
  return { days: list(field), last: false };
}

function parseDayOfWeek(field: string, list: (f: string) => Set<number>, expression: string): DayOfWeek {
  const last = /^(\w+)L$/.exec(field);
  if (last) return { days: new Set(), lastOf: [...list(last[1]!)][0]! };
  const nth = /^(\w+)#([1-5])$/.exec(field);
  if (nth) return { days: new Set(), nth: { day: [...list(nth[1]!)][0]!, n: Number(nth[2]) } };
  if (/[L#]/.test(field)) throw new ScheduleExpressionError(`${expression}: day-of-week "${field}" is not understood`);
  return { days: list(field) };
}

// A field: *, 5, 1-5, 0/15, 10/5 (from 10 every 5), MON-FRI, 1,15,30, or a step over the whole range.
function parseList(field: string, lo: number, hi: number, names?: string[]): Set<number> {
  const values = new Set<number>();
  const value = (text: string) => {
    const named = names?.indexOf(text.toUpperCase()) ?? -1;
    const n = named >= 0 ? named + 1 : /^\d+$/.test(text) ? Number(text) : NaN;
    if (Number.isNaN(n) || n < lo || n > hi)
      throw new Error(`"${text}" is not in ${lo}-${hi}${names ? ` or ${names[0]}-${names.at(-1)}` : ''}`);
    return n;
  };
  for (const part of field.split(',')) {
    const [range, stepText] = part.split('/') as [string, string | undefined];
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`bad step "${stepText}"`);
    let [from, to] = [lo, hi];
    if (range !== '*') {
      const [a, b] = range.split('-');
      from = value(a!);
      to = b === undefined ? (stepText === undefined ? from : hi) : value(b);
    }
    if (from > to) throw new Error(`range ${range} runs backwards`);
    for (let n = from; n <= to; n += step) values.add(n);
  }
  return values;
}

/**
 * The first time strictly after `after` at which the schedule fires. For a rate, `anchor` is when
 * it started (Scheduler fires at start, then every period).
 */
export function nextRun(schedule: Schedule, after: Date, anchor: Date = after): Date {
  if (schedule.kind === 'rate') {
    const periods = Math.floor((after.getTime() - anchor.getTime()) / schedule.everyMs) + 1;
    return new Date(anchor.getTime() + Math.max(1, periods) * schedule.everyMs);
  }
  const { cron, timezone } = schedule;
  const start = wallTime(after, timezone);
  // Walk local calendar days from the day `after` falls on; within a day, candidate times ascend.
  const day = new Date(Date.UTC(start.year, start.month - 1, start.day));
  for (let i = 0; i < SEARCH_DAYS; i++, day.setUTCDate(day.getUTCDate() + 1)) {
    const [y, m, d] = [day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate()];
    if (cron.years && !cron.years.has(y)) continue;
    if (!cron.months.has(m) || !dayMatches(cron, y, m, d)) continue;
    for (const h of sorted(cron.hours)) {
      for (const min of sorted(cron.minutes)) {
        const instant = firstInstantOf(y, m, d, h, min, timezone);
        // undefined: that local time does not exist today (spring forward), so it is skipped.
        if (instant !== undefined && instant > after.getTime()) return new Date(instant);
      }
    }
  }
  throw new ScheduleExpressionError('the schedule never fires again');
}

function dayMatches(cron: CronFields, y: number, m: number, d: number): boolean {
  const daysInMonth = new Date(Date.UTC(y, m, 0)).getUTCDate();
  const weekday = new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 1; // SUN = 1
  const dom = cron.dayOfMonth;
  if (!('any' in dom)) {
    if (dom.last) return d === daysInMonth;
    if (dom.nearestWeekday !== undefined) return d === nearestWeekday(y, m, Math.min(dom.nearestWeekday, daysInMonth), daysInMonth);
    return dom.days.has(d);
  }
  const dow = cron.dayOfWeek;
  if ('any' in dow) return true;
  if (dow.lastOf !== undefined) return weekday === dow.lastOf && d + 7 > daysInMonth;
  if (dow.nth) return weekday === dow.nth.day && Math.ceil(d / 7) === dow.nth.n;
  return dow.days.has(weekday);
}

/** `15W`: the weekday nearest the 15th, never crossing into another month. */
function nearestWeekday(y: number, m: number, target: number, daysInMonth: number): number {
  const weekday = new Date(Date.UTC(y, m - 1, target)).getUTCDay();
  if (weekday === 6) return target === 1 ? 3 : target - 1;
  if (weekday === 0) return target === daysInMonth ? target - 2 : target + 1;
  return target;
}

const sorted = (values: Set<number>) => [...values].sort((a, b) => a - b);

interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function wallTime(instant: Date | number, timezone: string): Wall {
  let format = formatters.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    formatters.set(timezone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(instant).map((p) => [p.type, Number(p.value)]));
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour!, minute: parts.minute! };
}

/** The earliest UTC instant whose local time in `timezone` is this wall time, if there is one. */
function firstInstantOf(y: number, m: number, d: number, h: number, min: number, timezone: string): number | undefined {
  const asUtc = Date.UTC(y, m - 1, d, h, min);
  // Offsets in use around that moment: a DST change moves it by at most a few hours either way.
  const offsets = new Set([-12, 0, 12].map((hours) => offsetAt(asUtc + hours * 3_600_000, timezone)));
  const matches = [...offsets]
    .map((offset) => asUtc - offset)
    .filter((instant) => {
      const wall = wallTime(instant, timezone);
      return wall.year === y && wall.month === m && wall.day === d && wall.hour === h && wall.minute === min;
    });
  return matches.length > 0 ? Math.min(...matches) : undefined;
}

function offsetAt(instant: number, timezone: string): number {
  const wall = wallTime(instant, timezone);
  const minuteFloor = Math.floor(instant / 60_000) * 60_000;
  return Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute) - minuteFloor;
}
