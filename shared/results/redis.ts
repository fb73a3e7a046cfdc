import { createClient } from '@redis/client';
import type { TimeBudget } from '../runtime/budget.js';
import type { ObjectStorage } from '../storage/port.js';
import { ARCHIVE_ROOT, archiveDay, archiveKey, readArchive, writeArchive } from './archive.js';
import { ArchiveWriteError, RedisStoreError, ResultsError } from './errors.js';
import { globToRegExp, type RetentionRule } from './rules.js';
import type { ResultsCleanupSettings } from './cleanup.js';

/**
 * A client for Celery's Redis backend (RESULTS_STORE=redis://…), connected on first use by the caller.
 * A connection dropped between commands (server restart, idle timeout) is emitted as 'error', which
 * with no listener crashes the process; the client reconnects by itself (a few attempts: see
 * reconnectStrategy) and a command caught by the drop fails with its own error, so the listener only reports.
 */
export function redisClient(url: string, onError: (error: unknown) => void = () => {}) {
  const client = createClient({ url, socket: { reconnectStrategy } });
  client.on('error', onError);
  return client;
}

// Connection attempts in a row before the client gives up. The client's own strategy retries
// forever, so a server that is down, or refuses the password, held the run (and every command
// queued behind the reconnect) until the Lambda timeout. 5 attempts with the backoff below span
// ~1.5 s, enough for a restart; a longer outage fails the run, which Lambda retries a minute later.
const RECONNECT_ATTEMPTS = 5;

/**
 * Retries a lost or refused connection a few times, then gives up: commands waiting for it fail,
 * the run fails naming the cause, and the next run connects afresh. A refused password never
 * heals by retrying, so it gives up at once.
 */
function reconnectStrategy(retries: number, cause: Error): number | Error {
  if (retries >= RECONNECT_ATTEMPTS || /^(WRONGPASS|NOAUTH|NOPERM)\b|\bAUTH\b/.test(cause.message)) return cause;
  return Math.min(50 * 2 ** retries, 2_000);
}

/** The server a redis:// URL names, without its credentials, for messages. */
export function redisLocation(url: string): string {
  const { protocol, host, pathname } = new URL(url);
  return `${protocol}//${host}${pathname}`;
}

/** Connects the client unless it is open (a container's first run, or its client gave up on a lost connection). */
export async function connectRedis(client: RedisClient, url: string): Promise<void> {
  if (client.isOpen) return;
  try {
    await client.connect();
  } catch (error) {
    throw new RedisStoreError(
      `could not connect to Redis at ${redisLocation(url)}: ${(error as Error).message} — check RESULTS_STORE (host, port, password) and that the server is up`,
      { cause: error },
    );
  }
}

export type RedisClient = ReturnType<typeof redisClient>;

/**
 * The key families Celery leaves in Redis without a TTL when result_expires is off: task results;
 * group results (saved with state SUCCESS and no date_done, so their age is Redis's idle time);
 * and kombu's remote-control reply queues (lists that outlive the caller that waited on them; not
 * archived: a reply whose asker gave up has no one to restore it for).
 */
const FAMILIES = [
  { pattern: 'celery-task-meta-*', kind: 'result' },
  { pattern: 'celery-taskset-meta-*', kind: 'group' },
  { pattern: '*.reply.celery.pidbox', kind: 'reply' },
] as const;
// Keys per SCAN step: each step is a short, non-blocking command; the whole keyspace is walked
// without ever holding the server the way KEYS would.
const SCAN_COUNT = 1_000;
// Result bytes read (GET) at a time. A SCAN step's keys were all read at once: Celery results of a
// few MB each (tasks returning reports) are a few GB per step, past any Lambda's memory. With an
// archive, a group is held about three times over (values, JSON lines, gzip).
const READ_BYTES = 16 * 1024 * 1024;

export interface RedisCleanupStats {
  dryRun: boolean;
  keysScanned: number;
  deleted: number;
  /** Dry runs only: keys a real run would delete now. */
  wouldDelete?: number;
  ttlSet: number;
  byRule: Record<string, number>;
  archived: number;
  /** In a dry run: keys that would be deleted. Otherwise 0, or unknown past a truncation. */
  remaining: number;
  /** The server's memory in use (INFO used_memory) and its key count (DBSIZE), after the run. */
  usedMemoryBytes: number;
  keys: number;
  truncated: boolean;
}

interface CeleryMeta {
  status?: string;
  date_done?: string | null;
  name?: string | null;
}

/**
 * Celery's Redis result backend, in place: keys that never got a TTL (result_expires unset, or
 * set to None) get one from the retention rules, measured from `date_done`; keys already past
 * retention are removed (UNLINK, archived first when an archive is set). Keys that have a TTL are
 * Redis's to expire and are left alone.
 *
 * @example await cleanupRedisResults({ redis, rules, settings: { dryRun: false, batchSize: 1000 }, budget, runId })
 */
export async function cleanupRedisResults(input: RedisCleanupInput): Promise<RedisCleanupStats> {
  try {
    return await cleanKeys(input);
  } catch (error) {
    if (error instanceof ResultsError) throw error; // the archive's own, which says what was kept
    throw new RedisStoreError(
      `the Redis store failed mid-run: ${(error as Error).message} — keys this run already removed or gave a TTL stay so; the next run goes on`,
      { cause: error },
    );
  }
}

interface RedisCleanupInput {
  redis: RedisClient;
  rules: RetentionRule[];
  settings: ResultsCleanupSettings;
  budget: TimeBudget;
  runId: string;
  archive?: ObjectStorage;
  now?: number;
}

// Sets a TTL only on a key that still has none, in one step: Celery may have rewritten the key with
// its own TTL since the TTL was read. As a script rather than Redis 7's EXPIRE … NX, which the Redis 5
// and 6 many Celery setups run (ElastiCache 6) refuse as an unknown argument: every run with a key
// to expire failed there.
const EXPIRE_IF_NONE = "if redis.call('TTL', KEYS[1]) == -1 then return redis.call('EXPIRE', KEYS[1], ARGV[1]) end return 0";

export async function setTtlIfNone(redis: RedisClient, key: string, seconds: number): Promise<boolean> {
  return (await redis.eval(EXPIRE_IF_NONE, { keys: [key], arguments: [String(seconds)] })) === 1;
}

async function cleanKeys(input: RedisCleanupInput): Promise<RedisCleanupStats> {
  const { redis, rules, settings, budget } = input;
  const now = input.now ?? Date.now();
  const floor = settings.olderThanDays === undefined ? Infinity : now - settings.olderThanDays * 86_400_000;
  const matchers = rules.map((rule) => ({ rule, task: rule.task === undefined ? undefined : globToRegExp(rule.task) }));
  const stats: RedisCleanupStats = {
    dryRun: settings.dryRun,
    keysScanned: 0,
    deleted: 0,
    ttlSet: 0,
    byRule: Object.fromEntries(rules.map((r) => [r.label, 0])),
    archived: 0,
    remaining: 0,
    usedMemoryBytes: 0,
    keys: 0,
    truncated: false,
  };

  let page = 0;
  // Archive objects of the run, numbered in order.
  let part = 0;
  families: for (const family of FAMILIES) {
    let cursor = '0';
    do {
      if (page > 0 && budget.expired()) {
        stats.truncated = true;
        break families;
      }
      const reply = await redis.scan(cursor, { MATCH: family.pattern, COUNT: SCAN_COUNT });
      cursor = String(reply.cursor);
      const keys = reply.keys.map(String);
      stats.keysScanned += keys.length;
      const ttls = await Promise.all(keys.map((key) => redis.ttl(key)));
      const unbounded = keys.filter((_, i) => ttls[i] === -1);
      // Idle time first: a GET resets it. (Read once: the TTL set below keeps later runs off the key.)
      const idle = family.kind === 'result' ? [] : await Promise.all(unbounded.map((key) => redis.objectIdleTime(key)));
      // Reply queues are lists: nothing to read but their idle time. The others are JSON strings,
      // read a bounded share at a time (see READ_BYTES), sized first with STRLEN.
      const sizes = family.kind === 'reply' ? [] : await Promise.all(unbounded.map((key) => redis.strLen(key).catch(notAString)));
      for (const group of byBytes(
        unbounded.map((key, i) => ({ key, idleSeconds: idle[i], bytes: Number(sizes[i] ?? 0) })),
        READ_BYTES,
      )) {
        const values =
          family.kind === 'reply' ? group.map(() => '{}') : await Promise.all(group.map(({ key }) => redis.get(key).catch(notAString)));

        const doomed: { key: string; value: string }[] = [];
        const expiries: { key: string; seconds: number }[] = [];
        group.forEach(({ key, idleSeconds }, i) => {
          const value = values[i];
          if (value === null || value === undefined) return; // gone since the SCAN, or not a string (see notAString)
          const meta = parseMeta(String(value));
          const done = meta?.date_done ? parseCeleryTime(meta.date_done) : typeof idleSeconds === 'number' ? now - idleSeconds * 1000 : NaN;
          if (!meta || Number.isNaN(done)) return; // not a finished task's result: leave it
          const status = family.kind === 'group' ? (meta.status ?? 'SUCCESS') : meta.status;
          const match = matchers.find(
            ({ rule, task }) => (!task || (meta.name != null && task.test(meta.name))) && (!rule.status || rule.status === status),
          );
          if (!match || match.rule.keepMs === null) return;
          const expiry = done + match.rule.keepMs;
          if (expiry <= now && done < floor) {
            doomed.push({ key, value: String(value) });
            stats.byRule[match.rule.label]! += 1;
          } else if (expiry > now) {
            expiries.push({ key, seconds: Math.ceil((expiry - now) / 1000) });
          }
        });

        if (settings.dryRun) {
          stats.remaining += doomed.length;
          stats.ttlSet += expiries.length;
        } else {
          if (input.archive && doomed.length > 0 && family.kind !== 'reply') {
            const objectKey = archiveKey(new Date(), input.runId, part++);
            try {
              await writeArchive(
                input.archive,
                objectKey,
                doomed.map((d) => JSON.stringify(d)),
              );
            } catch (error) {
              throw new ArchiveWriteError(`${input.archive.url}/${objectKey}`, doomed.length, error);
            }
            stats.archived += doomed.length;
          }
          if (doomed.length > 0) stats.deleted += await redis.unlink(doomed.map((d) => d.key));
          const set = await Promise.all(expiries.map((e) => setTtlIfNone(redis, e.key, e.seconds)));
          stats.ttlSet += set.filter(Boolean).length;
        }
      }
      page += 1;
    } while (cursor !== '0');
  }
  if (settings.dryRun) stats.wouldDelete = stats.remaining;
  const memory = /^used_memory:(\d+)/m.exec(String(await redis.info('memory')));
  stats.usedMemoryBytes = memory ? Number(memory[1]) : 0;
  stats.keys = Number(await redis.dbSize());
  return stats;
}

/** Puts archived keys back (only where the key is absent), restoring by task id or by date. */
export async function restoreRedisResults(input: {
  redis: RedisClient;
  archive: ObjectStorage;
  filter: { taskIds?: string[]; since?: Date };
}): Promise<{ objectsRead: number; matched: number; restored: number; alreadyPresent: number }> {
  const wanted = input.filter.taskIds?.length ? new Set(input.filter.taskIds.map((id) => `celery-task-meta-${id}`)) : undefined;
  const sinceDay = input.filter.since?.toISOString().slice(0, 10);
  const stats = { objectsRead: 0, matched: 0, restored: 0, alreadyPresent: 0 };
  for (const key of await input.archive.list(ARCHIVE_ROOT)) {
    const day = archiveDay(key);
    if (!day || (sinceDay && day < sinceDay)) continue;
    const rows = (await readArchive(input.archive, key)) as unknown as { key: string; value: string }[];
    stats.objectsRead += 1;
    for (const row of rows) {
      const meta = parseMeta(row.value);
      if (wanted && !wanted.has(row.key)) continue;
      if (input.filter.since && !(meta?.date_done && parseCeleryTime(meta.date_done) >= input.filter.since.getTime())) continue;
      stats.matched += 1;
      if (await input.redis.set(row.key, row.value, { condition: 'NX' })) stats.restored += 1;
      else stats.alreadyPresent += 1;
    }
  }
  return stats;
}

/** `items` in order, in groups of at most `limit` bytes (a larger item alone). */
function* byBytes<T extends { bytes: number }>(items: T[], limit: number): Generator<T[]> {
  let group: T[] = [];
  let bytes = 0;
  for (const item of items) {
    if (group.length > 0 && bytes + item.bytes > limit) {
      yield group;
      group = [];
      bytes = 0;
    }
    group.push(item);
    bytes += item.bytes;
  }
  if (group.length > 0) yield group;
}

/**
 * GET on a key holding no string answers WRONGTYPE. Under these patterns that is Celery's chord
 * state, not a result (`celery-taskset-meta-<id>.j`, a list, and `.s`, a sorted set, left behind
 * by a chord that never completed): it is skipped like any value that is not a result, where one
 * such key used to fail every run.
 */
function notAString(error: unknown): null {
  if (error instanceof Error && error.message.startsWith('WRONGTYPE')) return null;
  throw error;
}

function parseMeta(value: string): CeleryMeta | undefined {
  try {
    const parsed = JSON.parse(value) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as CeleryMeta) : undefined;
  } catch {
    return undefined;
  }
}

/** Celery writes ISO 8601, with or without an offset (naive values are UTC) and with microseconds. */
export function parseCeleryTime(text: string): number {
  const trimmed = text.replace(/(\.\d{3})\d+/, '$1');
  return Date.parse(/[zZ]|[+-]\d{2}:?\d{2}$/.test(trimmed) ? trimmed : `${trimmed}Z`);
}
