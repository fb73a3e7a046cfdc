import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildHandlers } from '../infra/build.js';
import { benchDatabase, fmt, verdict } from './database.js';

// Cold starts vary with the machine's load: each bundle is started this many times, the median printed.
const COLD_RUNS = 7;

/**
 * Each Lambda bundle's size (what init loads: the entry and its static chunks; the on-demand chunks
 * apart), and its cold init in a fresh Node process: loading the module
 * (what Lambda's init phase does) plus the first invocation against Postgres, median of COLD_RUNS
 * processes. Node's own start-up is not counted; Lambda's is its own.
 */
export async function benchBundles(): Promise<void> {
  const bench = await benchDatabase('chores_bench_bundles');
  const outside = await mkdtemp(join(tmpdir(), 'chores-bench-bundles-'));
  await chmod(outside, 0o755);
  try {
    console.log(`\nLambda bundles: size, and cold init (load + first call) in a fresh process, median of ${COLD_RUNS}`);
    for (const { job, file, bytes, lazyBytes } of (await buildHandlers(outside)).filter((b) => b.job !== 'migrate')) {
      const script = `
        const t0 = performance.now();
        const { handler } = await import(${JSON.stringify(file)});
        const loaded = performance.now();
        await handler({}, { functionName: 'bench', awsRequestId: 'r', getRemainingTimeInMillis: () => 60_000 });
        console.log(JSON.stringify({ load: loaded - t0, total: performance.now() - t0 }));
        process.exit(0);`;
      const runs: { load: number; total: number }[] = [];
      for (let i = 0; i < COLD_RUNS; i++) runs.push(await coldStart(script, outside, bench.url));
      const load = median(runs.map((r) => r.load));
      const total = median(runs.map((r) => r.total));
      console.log(
        `  ${job.padEnd(16)} ${fmt(bytes / 1024).padStart(4)} KiB at init, +${fmt(lazyBytes / 1024).padStart(3)} on demand (< 400 KiB: ${verdict(bytes < 400 * 1024)})   init ${fmt(total).padStart(4)} ms (load ${fmt(load)} ms; < 100 ms: ${verdict(total < 100)})`,
      );
    }
  } finally {
    await rm(outside, { recursive: true, force: true });
    await bench.close();
  }
}

async function coldStart(script: string, outside: string, url: string): Promise<{ load: number; total: number }> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    cwd: outside,
    env: {
      PATH: process.env.PATH!,
      DATABASE_URL: url,
      UPLOADS_STORAGE_URL: `file://${outside}/uploads`,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
    },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as { load: number; total: number };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
