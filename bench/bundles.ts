import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildHandlers } from '../infra/build.js';
import { benchDatabase, fmt, verdict } from './database.js';

/**
 * Each Lambda bundle's size, and its cold init in a fresh Node process: loading the module
 * (what Lambda's init phase does) plus the first invocation against Postgres. Node's own start-up
 * is not counted; Lambda's is its own.
 */
export async function benchBundles(): Promise<void> {
  const bench = await benchDatabase('chores_bench_bundles');
  const outside = await mkdtemp(join(tmpdir(), 'chores-bench-bundles-'));
  await chmod(outside, 0o755);
  try {
    console.log('\nLambda bundles: size, and cold init (load + first call) in a fresh process');
    for (const { job, file, bytes } of (await buildHandlers(outside)).filter((b) => b.job !== 'migrate')) {
      const script = `
        const t0 = performance.now();
        const { handler } = await import(${JSON.stringify(file)});
        const loaded = performance.now();
        await handler({}, { functionName: 'bench', awsRequestId: 'r', getRemainingTimeInMillis: () => 60_000 });
        console.log(JSON.stringify({ load: loaded - t0, total: performance.now() - t0 }));
        process.exit(0);`;
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
        cwd: outside,
        env: {
          PATH: process.env.PATH!,
          DATABASE_URL: bench.url,
          UPLOADS_STORAGE_URL: `file://${outside}/uploads`,
          POWERTOOLS_LOG_LEVEL: 'SILENT',
          POWERTOOLS_METRICS_DISABLED: 'true',
        },
      });
      const { load, total } = JSON.parse(stdout.trim().split('\n').at(-1)!) as { load: number; total: number };
      console.log(
        `  ${job.padEnd(16)} ${fmt(bytes / 1024).padStart(4)} KiB (< 1 MB: ${verdict(bytes < 1024 * 1024)})   init ${fmt(total).padStart(4)} ms (load ${fmt(load)} ms; < 200 ms: ${verdict(total < 200)})`,
      );
    }
  } finally {
    await rm(outside, { recursive: true, force: true });
    await bench.close();
  }
}
