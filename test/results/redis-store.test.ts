import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { cleanupRedisResults, parseCeleryTime, restoreRedisResults, setTtlIfNone } from '../../shared/results/redis.js';
import { parseRules } from '../../shared/results/rules.js';
import { UNLIMITED_BUDGET } from '../../shared/runtime/budget.js';
import { FileStorage } from '../../shared/storage/file.js';
import { testDatabase } from '../helpers/db.js';
import { freshEntry, lambdaContext } from '../helpers/lambda.js';
import { closedPort } from '../helpers/ports.js';
import { startRedis } from '../helpers/redis.js';
import { tempDir } from '../helpers/temp.js';

const { client: redis, url: redisUrl } = await startRedis();
const { url: dbUrl } = await testDatabase();
const NOW = Date.parse('2026-11-21T12:00:00Z');
const BIN = join(import.meta.dirname, '../../bin/chores.mjs');
const RULES = parseRules('[{"task":"audit.*","keep":"never"},{"status":"REVOKED","keep":"0s"},{"keep":"7d"}]');
const daysAgo = (days: number) => new Date(NOW - days * 86_400_000).toISOString().replace('Z', '+00:00');

/** A result as Celery's Redis backend stores it (result_extended adds name). */
async function storeResult(id: string, meta: Record<string, unknown>, ttlSeconds?: number) {
  const value = JSON.stringify({ status: 'SUCCESS', result: { ok: true }, traceback: null, children: [], task_id: id, ...meta });
  await redis.set(`celery-task-meta-${id}`, value, ttlSeconds ? { expiration: { type: 'EX', value: ttlSeconds } } : undefined);
}

const clean = (extra: { dryRun?: boolean; archive?: FileStorage } = {}) =>
  cleanupRedisResults({
    redis,
    rules: RULES,
    settings: { dryRun: extra.dryRun ?? false, batchSize: 1_000 },
    budget: UNLIMITED_BUDGET,
    runId: 'redis',
    now: NOW,
    ...(extra.archive && { archive: extra.archive }),
  });

beforeEach(async () => {
  await redis.flushAll();
});

describe('the Redis store (Celery Redis backend)', () => {
  it('gives keys without a TTL one from the rules, deletes those past retention, and leaves the rest', async () => {
    await storeResult('young', { date_done: daysAgo(1), name: 'app.mail' });
    await storeResult('old', { date_done: daysAgo(8), name: 'app.mail' });
    await storeResult('revoked', { status: 'REVOKED', date_done: daysAgo(0.01), name: 'app.mail' });
    await storeResult('audit', { date_done: daysAgo(400), name: 'audit.access' });
    await storeResult('has-ttl', { date_done: daysAgo(30), name: 'app.mail' }, 3_600);
    await redis.set('unrelated-key', 'x');

    const stats = await clean();
    const ttlOf = (id: string) => redis.ttl(`celery-task-meta-${id}`);

    expect(stats).toMatchObject({
      keysScanned: 5,
      deleted: 2,
      ttlSet: 1,
      byRule: { 'task=audit.* keep=never': 0, 'status=REVOKED keep=0s': 1, 'keep=7d': 1 },
    });
    expect(await redis.exists(['celery-task-meta-old', 'celery-task-meta-revoked'])).toBe(0);
    expect(Math.abs((await ttlOf('young')) - 6 * 86_400)).toBeLessThan(5);
    expect(await ttlOf('audit')).toBe(-1); // kept forever, as the rule says
    expect(await ttlOf('has-ttl')).toBeLessThanOrEqual(3_600); // Redis's to expire
    expect(await redis.get('unrelated-key')).toBe('x');
  });

  it('sets a TTL only on a key that still has none, never over one Celery set since the TTL was read (any Redis, 5 on)', async () => {
    await redis.set('no-ttl', 'x');
    await redis.set('given-ttl', 'x', { expiration: { type: 'EX', value: 60 } });

    const set = [await setTtlIfNone(redis, 'no-ttl', 3_600), await setTtlIfNone(redis, 'given-ttl', 3_600)];

    expect(set).toEqual([true, false]);
    expect(Math.abs((await redis.ttl('no-ttl')) - 3_600)).toBeLessThan(5);
    expect(await redis.ttl('given-ttl')).toBeLessThanOrEqual(60);
  });

  it('handles group results and remote-control reply queues like results: a TTL from the rules, or gone past it', async () => {
    // Celery saves a group as {"result": …} with state SUCCESS and no date_done; kombu's pidbox replies are lists.
    await redis.set('celery-taskset-meta-g1', JSON.stringify({ result: [['g1', null], [[['t1', null], null]]] }));
    await redis.rPush('c0ffee.reply.celery.pidbox', JSON.stringify({ body: 'pong' }));
    const zeroKeep = parseRules('[{"keep":"0s"}]');

    const kept = await clean();
    const groupTtl = await redis.ttl('celery-taskset-meta-g1');
    const replyTtl = await redis.ttl('c0ffee.reply.celery.pidbox');
    await redis.persist('celery-taskset-meta-g1');
    await redis.persist('c0ffee.reply.celery.pidbox');
    const gone = await cleanupRedisResults({
      redis,
      rules: zeroKeep,
      settings: { dryRun: false, batchSize: 1_000 },
      budget: UNLIMITED_BUDGET,
      runId: 'redis',
    });

    expect(kept).toMatchObject({ keysScanned: 2, ttlSet: 2, deleted: 0 });
    expect(Math.abs(groupTtl - 7 * 86_400)).toBeLessThan(5); // age from Redis's idle time: just written
    expect(Math.abs(replyTtl - 7 * 86_400)).toBeLessThan(5);
    expect(gone).toMatchObject({ deleted: 2, byRule: { 'keep=0s': 2 } });
    expect(await redis.exists(['celery-taskset-meta-g1', 'c0ffee.reply.celery.pidbox'])).toBe(0);
  });

  it("reports the server's memory in use and its key count", async () => {
    await storeResult('young', { date_done: daysAgo(1) });
    await redis.set('unrelated-key', 'x');
    const used = Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))![1]);

    const stats = await clean();

    expect(stats.keys).toBe(2);
    expect(stats.usedMemoryBytes).toBeGreaterThan(used / 2);
    expect(stats.usedMemoryBytes).toBeLessThan(used * 2);
  });

  it('reads naive date_done values as UTC, the way older Celery versions wrote them', () => {
    expect(parseCeleryTime('2026-11-21T10:00:00.123456')).toBe(Date.parse('2026-11-21T10:00:00.123Z'));
    expect(parseCeleryTime('2026-11-21T10:00:00.123456+02:00')).toBe(Date.parse('2026-11-21T08:00:00.123Z'));
  });

  it('changes nothing in a dry run and counts what it would do', async () => {
    await storeResult('young', { date_done: daysAgo(1) });
    await storeResult('old', { date_done: daysAgo(8) });

    const stats = await clean({ dryRun: true });

    expect(stats).toMatchObject({ dryRun: true, deleted: 0, wouldDelete: 1, remaining: 1, ttlSet: 1 });
    expect(await redis.ttl('celery-task-meta-young')).toBe(-1);
    expect(await redis.exists('celery-task-meta-old')).toBe(1);
  });

  it('archives deleted keys and restores them exactly, idempotently', async () => {
    await storeResult('old-1', { date_done: daysAgo(9) });
    await storeResult('old-2', { date_done: daysAgo(10), name: 'app.report' });
    const before = await redis.mGet(['celery-task-meta-old-1', 'celery-task-meta-old-2']);
    const archive = new FileStorage(await tempDir('chores-redis-archive-'));

    const stats = await clean({ archive });
    const first = await restoreRedisResults({ redis, archive, filter: { since: new Date(0) } });
    const again = await restoreRedisResults({ redis, archive, filter: { taskIds: ['old-1'] } });

    expect(stats).toMatchObject({ deleted: 2, archived: 2 });
    expect(first).toMatchObject({ matched: 2, restored: 2 });
    expect(again).toMatchObject({ matched: 1, restored: 0, alreadyPresent: 1 });
    expect(await redis.mGet(['celery-task-meta-old-1', 'celery-task-meta-old-2'])).toEqual(before);
  });

  it('names the archive object it cannot read when restoring, and restores nothing from it', async () => {
    const archive = new FileStorage(await tempDir('chores-redis-archive-'));
    await archive.put('results/2026/11/21/truncated.jsonl.gz', new Uint8Array([0x1f, 0x8b, 0x08]), 'application/gzip');

    const restore = restoreRedisResults({ redis, archive, filter: { since: new Date(0) } });

    await expect(restore).rejects.toThrow(
      `could not read archive object ${archive.url}/results/2026/11/21/truncated.jsonl.gz: unexpected end of file`,
    );
  });

  it('runs through the real results-cleanup Lambda entry when RESULTS_STORE is a redis:// URL', async () => {
    await storeResult('old', { date_done: new Date(Date.now() - 9 * 86_400_000).toISOString() });
    const handler = await freshEntry(() => import('../../functions/results-cleanup.js'), { DATABASE_URL: dbUrl, RESULTS_STORE: redisUrl });

    const stats = await handler({}, lambdaContext());
    vi.unstubAllEnvs();

    expect(stats).toMatchObject({ job: 'results-cleanup', keysScanned: 1, deleted: 1, ttlSet: 0, truncated: false });
  });

  it('keeps the Lambda entry working after Redis drops its connection between runs', async () => {
    const handler = await freshEntry(() => import('../../functions/results-cleanup.js'), { DATABASE_URL: dbUrl, RESULTS_STORE: redisUrl });
    await handler({}, lambdaContext()); // the container's client is now connected
    await storeResult('old', { date_done: new Date(Date.now() - 9 * 86_400_000).toISOString() });

    // The server closes every other connection, as a restart or an idle timeout would. Without an
    // 'error' listener on the module's client this is an uncaught "Socket closed unexpectedly".
    const killed = await redis.sendCommand(['CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes']);
    const stats = await handler({}, lambdaContext());
    vi.unstubAllEnvs();

    expect(killed).toBeGreaterThanOrEqual(1);
    expect(stats).toMatchObject({ job: 'results-cleanup', keysScanned: 1, deleted: 1 });
  });

  it("skips keys of another type under Celery's patterns (an unfinished chord's list and sorted set) and cleans the rest", async () => {
    await storeResult('old', { date_done: daysAgo(8) });
    await redis.rPush('celery-taskset-meta-chord-1.j', 'part');
    await redis.zAdd('celery-taskset-meta-chord-1.s', { score: 0, value: 'part' });
    await redis.hSet('celery-task-meta-odd', 'status', 'SUCCESS');

    const stats = await clean();

    expect(stats).toMatchObject({ keysScanned: 4, deleted: 1 });
    expect(await redis.exists('celery-task-meta-old')).toBe(0);
    expect(await redis.exists(['celery-taskset-meta-chord-1.j', 'celery-taskset-meta-chord-1.s', 'celery-task-meta-odd'])).toBe(3);
  });

  it('fails the Lambda run naming the server, and never the password, when Redis refuses the password', async () => {
    await redis.sendCommand(['ACL', 'SETUSER', 'chores', 'on', '>right-password', '~*', '+@all']);
    const url = new URL(redisUrl);
    const handler = await freshEntry(() => import('../../functions/results-cleanup.js'), {
      DATABASE_URL: dbUrl,
      RESULTS_STORE: `redis://chores:not-the-password@${url.host}`,
    });

    const failure = await handler({}, lambdaContext()).catch((error: Error) => error);
    vi.unstubAllEnvs();

    expect(String(failure)).toMatch(new RegExp(`^RedisStoreError: could not connect to Redis at redis://${url.host}: WRONGPASS`));
    expect(String(failure)).not.toContain('not-the-password');
  });

  it('fails the Lambda run after a few connection attempts, naming the server, when Redis is down', async () => {
    const port = await closedPort();
    const handler = await freshEntry(() => import('../../functions/results-cleanup.js'), {
      DATABASE_URL: dbUrl,
      RESULTS_STORE: `redis://127.0.0.1:${port}/0`,
    });

    const failure = await handler({}, lambdaContext()).catch((error: Error) => error);
    vi.unstubAllEnvs();

    expect(String(failure)).toMatch(`could not connect to Redis at redis://127.0.0.1:${port}/0: connect ECONNREFUSED`);
  });

  it('reads large results a bounded share at a time: 300 MB of them clean under a 200 MB heap', { timeout: 120_000 }, async () => {
    // Celery results of a few MB each, as tasks returning reports leave them, all in one SCAN step.
    const big = 'x'.repeat(3_000_000);
    for (let i = 0; i < 100; i++) await storeResult(`big-${i}`, { date_done: daysAgo(9), result: big });

    const { stdout } = await promisify(execFile)('node', ['--max-old-space-size=200', BIN, 'run', 'results-cleanup', '--json'], {
      env: { ...process.env, DATABASE_URL: dbUrl, RESULTS_STORE: redisUrl },
    });

    expect(JSON.parse(stdout)).toMatchObject({ keysScanned: 100, deleted: 100 });
    expect(await redis.dbSize()).toBe(0);
  });

  it('walks a large keyspace in SCAN steps', async () => {
    for (let i = 0; i < 2_500; i++) await storeResult(`bulk-${i}`, { date_done: daysAgo(i % 2 === 0 ? 10 : 1) });

    const stats = await clean();

    expect(stats).toMatchObject({ keysScanned: 2_500, deleted: 1_250, ttlSet: 1_250 });
  });
});
