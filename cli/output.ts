import { isSkipped } from '../shared/runtime/handler.js';

/** Human output for stats objects of any job: one headline, then aligned `key  value` lines. */
export function formatStats(stats: Record<string, unknown>): string {
  if (isSkipped(stats)) return `${stats.job}: skipped — ${stats.reason}`;
  // Not a run's stats: outbox-deliver's answer to an SQS batch (`chores invoke … --payload` of an SQS event).
  if (typeof stats.job !== 'string') return JSON.stringify(stats, null, 2);
  const { job, durationMs, ...rest } = stats;
  const lines = [`${job} finished in ${durationMs} ms`];
  const width = Math.max(...Object.keys(rest).map((k) => k.length));
  for (const [key, value] of Object.entries(rest)) {
    if (value !== null && typeof value === 'object') {
      lines.push(`  ${key}:`);
      const innerWidth = Math.max(...Object.keys(value).map((k) => k.length));
      for (const [inner, innerValue] of Object.entries(value)) lines.push(`    ${inner.padEnd(innerWidth)}  ${formatValue(innerValue)}`);
    } else {
      lines.push(`  ${key.padEnd(width)}  ${value}`);
    }
  }
  return lines.join('\n');
}

/** A value under a nested key: one more level (tables-cleanup's per-table sizes) as `key=value` pairs. */
function formatValue(value: unknown): string {
  if (value === null || typeof value !== 'object') return String(value);
  return Object.entries(value)
    .map(([key, inner]) => `${key}=${inner !== null && typeof inner === 'object' ? JSON.stringify(inner) : inner}`)
    .join(' ');
}

/** A run's counts on one line, `deleted=5 remaining=0`, in the stats' own order; timings left out. */
export function countsLine(stats: Record<string, unknown>): string {
  return Object.entries(stats)
    .filter(([key, value]) => typeof value === 'number' && !key.endsWith('Ms'))
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
}

/** "3 min ago", "2 h ago": enough precision for an operator glancing at run history. */
export function ago(date: Date, now = new Date()): string {
  const seconds = Math.round((now.getTime() - date.getTime()) / 1000);
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Shows `label … 3.2 s` on stderr while `work` runs, when stderr is a terminal; scripts and pipes
 * see nothing extra. Stdout is left alone, so `--json` output stays clean.
 */
export async function withProgress<T>(label: string, work: Promise<T>): Promise<T> {
  if (!process.stderr.isTTY) return work;
  const started = Date.now();
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  let frame = 0;
  const timer = setInterval(() => {
    process.stderr.write(`\r${frames[frame++ % frames.length]} ${label} ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, 100);
  try {
    return await work;
  } finally {
    clearInterval(timer);
    process.stderr.write('\r\x1b[2K');
  }
}
