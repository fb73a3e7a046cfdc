import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildHandlers, HANDLERS } from '../../infra/build.js';
import { jobNames } from '../../shared/jobs.js';
import { testDatabase } from '../helpers/db.js';
import { runAsDeployed } from '../helpers/bundle.js';
import { addTestEndpoint, deliveryRows, publishEvents } from '../helpers/outbox.js';
import { startRedis } from '../helpers/redis.js';
import { TRACE_HEADER, xrayDaemon } from '../helpers/xray.js';

const { db, url } = await testDatabase();
// Outside the repository: a bundle that still needed node_modules (a devDependency, or anything
// not bundled) fails to load here, as it would in Lambda.
const outside = await mkdtemp(join(tmpdir(), 'chores-bundles-'));
// Started for the file (its afterAll stops it): one test runs a bundle against it.
const { url: redisUrl } = await startRedis();
await chmod(outside, 0o755);
const built = await buildHandlers(outside);
afterAll(() => rm(outside, { recursive: true, force: true }));

/** The source maps of the bundle files given, as text. */
const maps = (files: string[]) => Promise.all(files.map((f) => readFile(`${f}.map`, 'utf8')));
/** The source paths of the bundle files given (from their source maps). */
const sources = async (files: string[]) => (await maps(files)).join('\n');

/**
 * Loads a bundle in a fresh Node process, with only the Lambda environment (no NODE_OPTIONS, as
 * deployed), and invokes it once with `event`; prints the result, or the error's stack.
 */
async function invokeBundle(file: string, env: Record<string, string>, event: object = {}) {
  const script = `
    const { handler } = await import(${JSON.stringify(file)});
    const context = { functionName: 'bundle-test', awsRequestId: 'r-1', getRemainingTimeInMillis: () => 60_000 };
    const result = await handler(${JSON.stringify(event)}, context).catch((error) => ({ stack: error.stack }));
    console.log(JSON.stringify(result));
    // The X-Ray SDK's last datagram is sent asynchronously: let it leave before exiting.
    if (process.env.AWS_XRAY_DAEMON_ADDRESS) await new Promise((resolve) => setTimeout(resolve, 100));
    process.exit(0);`;
  return runAsDeployed(script, outside, { DATABASE_URL: url, ...env });
}

// Several tests start a fresh Node process on a bundle (0.5–2.5 s each on the loaded 2-core machine),
// so none is held to the suite's 10 s default.
describe('the Lambda bundles', { timeout: 60_000 }, () => {
  it('are built for every job, each loading under 400 KiB at init with the Tracer chunk a traced Lambda loads', () => {
    expect(built.map((b) => b.job)).toEqual([...HANDLERS]);
    for (const bundle of built) expect(bundle.bytes + bundle.tracingBytes, bundle.job).toBeLessThan(400 * 1024);
    // Every job function has the Tracer chunk to count (migrate is deploy machinery, untraced).
    for (const bundle of built.filter((b) => b.job !== 'migrate')) expect(bundle.tracingBytes).toBeGreaterThan(50 * 1024);
  });

  it.each([
    ['results-cleanup', '@aws-sdk/client-s3'],
    ['tables-cleanup', '@aws-sdk/client-s3'],
    ['uploads-cleanup', '@aws-sdk/client-s3'],
    ['uploads-notify', '@aws-sdk/client-sqs'],
    ['outbox-deliver', 'aws-xray-sdk-core'],
    ['outbox-deliver', '@aws-sdk/client-secrets-manager'],
    ['migrate', '@aws-sdk/client-secrets-manager'],
  ])('leave %s’s %s out of what it loads at init, for a dynamic import', async (job, library) => {
    const { loaded, file } = built.find((b) => b.job === job)!;

    expect(loaded).toContain(file);
    expect(await sources(loaded)).not.toContain(`node_modules/${library}/`);
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

  it.each(jobNames)('give %s’s Tracer only the parts of the X-Ray SDK it uses (infra/shims/xray-core.cjs)', async (job) => {
    const { tracingChunk } = built.find((b) => b.job === job)!;

    const code = await sources([tracingChunk!]);

    expect(code).toContain('node_modules/aws-xray-sdk-core/dist/lib/segments/segment.js');
    for (const unused of ['segments/plugins/', 'patchers/aws_p.js', 'patchers/http_p.js', 'dist/lib/aws-xray.js'])
      expect(code, unused).not.toContain(`node_modules/aws-xray-sdk-core/dist/lib/${unused}`);
    expect(code).not.toContain('node_modules/semver/');
  });

  it('leave the Redis client out of what results-cleanup loads at init', async () => {
    const { loaded, file } = built.find((b) => b.job === 'results-cleanup')!;

    expect(loaded).toContain(file);
    expect(await sources(loaded)).not.toContain('node_modules/@redis/client');
  });

  it.each(jobNames)('build %s’s schemas with zod/mini, not classic zod (~60 KiB more and ~20 ms of each cold import)', async (job) => {
    const { loaded } = built.find((b) => b.job === job)!;

    const code = await sources(loaded);

    expect(code).toContain('node_modules/zod/v4/mini/');
    expect(code).not.toContain('node_modules/zod/v4/classic/');
  });

  it.each(jobNames)('leave out of what %s loads at init the Node modules only a rarer path needs', async (job) => {
    const { loaded } = built.find((b) => b.job === job)!;
    const code = (await Promise.all(loaded.map((f) => readFile(f, 'utf8')))).join('\n');

    // Response streaming (middy), a directory archive or upload store, and gzip (archives) each load
    // their module on first use: statically imported, they cost every cold start a few ms each.
    for (const builtin of ['node:stream/web', 'node:stream/promises', 'node:fs/promises', 'node:zlib'])
      expect(code, builtin).not.toMatch(new RegExp(`(from|import)\\s*["']${builtin}["']`));
  });

  it('run a job traced, loading the Tracer chunk and sending its subsegments to the X-Ray daemon', async () => {
    const daemon = await xrayDaemon();
    try {
      const stats = await invokeBundle(built.find((b) => b.job === 'outbox-cleanup')!.file, daemon.lambdaEnv);

      expect(stats).toMatchObject({ job: 'outbox-cleanup', truncated: false });
      const docs = await daemon.documents();
      const names = docs.map((d) => d.name);
      expect(names).toContain('## index.handler');
      expect(names).toContain(`${new URL(url).pathname.slice(1)}@127.0.0.1`);
      // Under the segment Lambda started (the trace header), as the SDK's own index sets it up.
      expect(docs.find((d) => d.name === '## index.handler')).toMatchObject({
        trace_id: TRACE_HEADER.slice(5, 40),
        parent_id: '53995c3f42cd8ad8',
      });
    } finally {
      await daemon.close();
    }
  });

  // As deployed (the bundle maps its own stacks), and as a stage that turns Node's mapping on runs.
  it.each([
    ['as deployed', ''],
    ['under NODE_OPTIONS=--enable-source-maps', '--enable-source-maps'],
  ])(
    'report an error under its own name, with a stack that points at our TypeScript through maps without source text, %s',
    async (_how, nodeOptions) => {
      const { file, loaded } = built.find((b) => b.job === 'results-cleanup')!;

      const { stack } = await invokeBundle(file, { NODE_OPTIONS: nodeOptions }, { batchSize: 'many' });

      // Minified without keepNames, the class was `de`, in logs and in a failed run's exc_type alike.
      expect(stack).toMatch(/^InvalidPayloadError: invalid payload for results-cleanup: batchSize: /);
      // Without Node's --enable-source-maps, the injected shim (infra/shims/lazy-source-maps.ts) maps each
      // frame of the minified bundle back to its source file, reading the map as the stack is printed.
      expect(stack).toMatch(/^ {4}at (async )?[\w.<>]+ \(\/.*\/shared\/runtime\/[a-z-]+\.ts:\d+:\d+\)$/m);
      expect(stack).not.toMatch(/index\.mjs:\d+:\d+/);
      for (const map of await maps(loaded)) expect(JSON.parse(map)).not.toHaveProperty('sourcesContent');
    },
  );

  it('fail a delivery to a URL the SSRF policy refuses at once, without retrying it, as the TypeScript does', async () => {
    await addTestEndpoint(db, 'http://169.254.169.254/latest/meta-data/');
    await publishEvents(db, [{ type: 'order.paid', payload: { orderId: 1 } }]);

    const stats = await invokeBundle(built.find((b) => b.job === 'outbox-deliver')!.file, { OUTBOX_ALLOW_HTTP: 'true' });
    const [delivery] = await deliveryRows(db);
    await db.query('TRUNCATE chores.outbox_events, chores.webhook_endpoints CASCADE');

    // Told apart from a retryable failure by its class: by name, the minified bundle retried it.
    expect(stats).toMatchObject({ job: 'outbox-deliver', processed: 1, failed: 1, retried: 0 });
    expect(delivery).toMatchObject({ status: 'failed', attempts: 1 });
  });

  it('run results-cleanup on its own against Redis, loading the Redis client on demand', async () => {
    const stats = await invokeBundle(built.find((b) => b.job === 'results-cleanup')!.file, { RESULTS_STORE: redisUrl });

    expect(stats).toMatchObject({ job: 'results-cleanup', truncated: false });
  });
});
