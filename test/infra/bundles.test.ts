import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { buildHandlers, HANDLERS } from '../../infra/build.js';
import { jobNames } from '../../shared/jobs.js';
import { testDatabase } from '../helpers/db.js';
import { startRedis } from '../helpers/redis.js';

const { url } = await testDatabase();
// Outside the repository: a bundle that still needed node_modules (a devDependency, or anything
// not bundled) fails to load here, as it would in Lambda.
const outside = await mkdtemp(join(tmpdir(), 'chores-bundles-'));
// Started for the file (its afterAll stops it): one test runs a bundle against it.
const { url: redisUrl } = await startRedis();
await chmod(outside, 0o755);
const built = await buildHandlers(outside);
afterAll(() => rm(outside, { recursive: true, force: true }));

/** Loads a bundle in a fresh Node process, with only the Lambda environment, and invokes it once. */
async function invokeBundle(file: string, env: Record<string, string>) {
  const script = `
    const { handler } = await import(${JSON.stringify(file)});
    const context = { functionName: 'bundle-test', awsRequestId: 'r-1', getRemainingTimeInMillis: () => 60_000 };
    console.log(JSON.stringify(await handler({}, context)));
    process.exit(0);`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--enable-source-maps', '--input-type=module', '-e', script], {
    cwd: outside,
    env: {
      PATH: process.env.PATH!,
      NODE_PATH: '',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
      DATABASE_URL: url,
      ...env,
    },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

describe('the Lambda bundles', () => {
  it('are built for every job, each loading under 1 MB at init', () => {
    expect(built.map((b) => b.job)).toEqual([...HANDLERS]);
    for (const bundle of built) expect(bundle.bytes).toBeLessThan(1024 * 1024);
  });

  it('run migrate on its own, finding the SQL files shipped beside it', async () => {
    const stats = await invokeBundle(built.find((b) => b.job === 'migrate')!.file, {});

    expect(stats).toEqual({ applied: [], current: expect.any(Number) }); // the test database is already current
    expect(stats.current).toBeGreaterThanOrEqual(3);
  });

  it.each(jobNames)('run %s on their own against Postgres', async (job) => {
    const file = built.find((b) => b.job === job)!.file;

    const stats = await invokeBundle(file, { UPLOADS_STORAGE_URL: `file://${outside}/uploads` });

    expect(stats).toMatchObject({ job, truncated: false, durationMs: expect.any(Number) });
  });

  it('leave the Redis client out of what results-cleanup loads at init', async () => {
    const { loaded, file } = built.find((b) => b.job === 'results-cleanup')!;
    const sources = async (files: string[]) => (await Promise.all(files.map((f) => readFile(`${f}.map`, 'utf8')))).join('\n');

    expect(loaded).toContain(file);
    expect(await sources(loaded)).not.toContain('node_modules/@redis/client');
  });

  it('run results-cleanup on its own against Redis, loading the Redis client on demand', async () => {
    const stats = await invokeBundle(built.find((b) => b.job === 'results-cleanup')!.file, { RESULTS_STORE: redisUrl });

    expect(stats).toMatchObject({ job: 'results-cleanup', truncated: false });
  });
});
