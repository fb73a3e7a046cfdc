import * as z from './zod.js'; // zod/mini, with English messages: see shared/zod.ts
import { isRowId } from './db/params.js';
import { parseTimeOrAgo } from './duration.js';

/**
 * The one registry of jobs. The CDK stack, the local runner, the CLI and the docs all read it:
 * a job removed here loses its function, schedule and alarms everywhere at once. It imports no
 * service (the CDK app loads it; test/infra/app-imports.test.ts keeps `pg` out of that graph).
 */

/** A threshold on one of a job's stats, turned into a CloudWatch alarm (and checked locally). */
export interface AlarmRule {
  stat: string;
  /** Fires when the stat is above this value ... */
  above: number;
  /** ... or, when set, when the stat's increase since the previous run is (a growing backlog). */
  rising?: true;
  /** ... for this many consecutive runs. */
  runs: number;
  why: string;
}

export interface JobDefinition<Settings extends z.ZodMiniType = z.ZodMiniType> {
  description: string;
  /** EventBridge Scheduler expression: `rate(…)` or `cron(min hour dom month dow year)`. */
  schedule: string;
  timezone: string;
  /** Scheduler may start the run this late, spreading load; 0 for jobs that must run on the minute. */
  flexibleWindowMinutes: number;
  /** Manual-invoke payload schema. Scheduled runs send `{}`, so every field has a default. */
  settings: Settings;
  timeoutSeconds: number;
  memoryMb: number;
  alarms: AlarmRule[];
  /** What the deployed stack gives this job's function (infra/stack.ts names no job). */
  infra: JobInfra;
}

/**
 * A bucket a job's function reaches, the access it gets, and the variable its `s3://` URL arrives in.
 * `write`: PutObject under `prefix` only (archives). `delete`: HEAD, DeleteObject and ListBucket on the
 * whole bucket (HEAD of a missing key answers 404 only with ListBucket).
 */
export type BucketNeed =
  | { bucket: 'archive'; access: 'write'; prefix: string; env: string }
  | { bucket: 'uploads'; access: 'delete'; env: string };

/** The name of the variable carrying the webhook secret keys' Secrets Manager ARN (one place to rename it). */
export const WEBHOOK_KEYS_SECRET_ENV = 'OUTBOX_SECRET_KEYS_SECRET_ARN';

/** What a job needs from infrastructure. Everything absent is withheld: least privilege by default. */
export interface JobInfra {
  /** Subnets with a NAT route, for a job that calls the internet; every other job runs isolated. */
  egress: boolean;
  /** `consume`: the dispatch queue feeds it (the fast path). `send`: it may send, URL in OUTBOX_DISPATCH_QUEUE_URL. */
  dispatchQueue?: 'consume' | 'send';
  buckets?: BucketNeed[];
  /** Reads the generated webhook-secret keys from Secrets Manager; the ARN arrives in WEBHOOK_KEYS_SECRET_ENV. */
  webhookKeys?: boolean;
  /** Extra environment for this function only (the stage's `environment` reaches every function). */
  environment?: Record<string, string>;
  /** The stats graphed on the dashboard (runs, failures, skips, duration and the heartbeat always are). */
  dashboard: string[];
}

// Each batch is one short transaction. 10,000 rows keeps one batch under 100 ms on this 2-core
// machine (see `npm run bench`), well under the 250 ms we allow a transaction to hold row locks
// and delay vacuum; smaller batches measured slower (per-transaction overhead), larger ones no
// faster and longer-held.
export const DEFAULT_BATCH_SIZE = 10_000;

// Concurrent streams of heap-order batches (shared/tables/ranges.ts). Postgres never runs a DELETE
// in parallel, so one stream of batches keeps one backend busy on one core; a second stream on
// other pages raised the rate 1.4–1.5× (results-cleanup, 700k of 1M rows) with every transaction
// as short. Two, not more, by default: the database's other cores stay with the app.
export const DEFAULT_SWEEP_WORKERS = 2;
export const MAX_SWEEP_WORKERS = 4;

/**
 * A settings schema built on first use (each job's `settings` is a getter over one). Building zod
 * schemas is a measurable part of a Lambda's cold start, and a function parses only its own job's
 * settings: building all six at import took ~6 ms of each cold import (measured), five of them never parsed with.
 */
function lazy<Schema>(build: () => Schema): () => Schema {
  let built: Schema | undefined;
  return () => (built ??= build());
}

const sweepWorkers = () => z._default(z.int().check(z.minimum(1), z.maximum(MAX_SWEEP_WORKERS)), DEFAULT_SWEEP_WORKERS);

const resultsCleanupSettings = lazy(() =>
  z.strictObject({
    dryRun: z._default(z.boolean(), false),
    batchSize: z._default(z.int().check(z.minimum(1), z.maximum(50_000)), DEFAULT_BATCH_SIZE),
    workers: sweepWorkers(),
    olderThanDays: z.optional(z.number().check(z.positive())),
  }),
);

/** outbox-deliver's manual payload `{"replay": {…}}`: the same replay as `chores outbox replay`. */
const outboxDeliverSettings = lazy(() => {
  const id = z.pipe(
    z.union([z.string().check(z.refine(isRowId, 'must be a numeric id (digits, within bigint)')), z.int().check(z.positive())]),
    z.transform(String),
  );
  const time = z.pipe(
    z.string(),
    z.transform((text: string, ctx) => {
      try {
        return parseTimeOrAgo(text);
      } catch (error) {
        ctx.issues.push({ code: 'custom', message: (error as Error).message, input: text });
        return z.NEVER;
      }
    }),
  );
  return z.strictObject({
    replay: z.optional(
      z.strictObject({
        endpointId: id,
        since: z.optional(time),
        until: z.optional(time),
        eventId: z.optional(id),
        status: z._default(z.enum(['failed', 'all']), 'failed'),
        dryRun: z._default(z.boolean(), false),
      }),
    ),
  });
});

const outboxCleanupSettings = lazy(() =>
  z.strictObject({ dryRun: z._default(z.boolean(), false), retentionHours: z.optional(z.number().check(z.positive())) }),
);
const uploadsCleanupSettings = lazy(() => z.strictObject({ dryRun: z._default(z.boolean(), false) }));
const uploadsNotifySettings = lazy(() => z.strictObject({}));
const tablesCleanupSettings = lazy(() =>
  z.strictObject({
    dryRun: z._default(z.boolean(), false),
    // Rows per index-walk batch, and what a heap-order sweep sizes its first range for (then by time).
    batchSize: z._default(z.int().check(z.minimum(100), z.maximum(50_000)), 10_000),
    workers: sweepWorkers(),
  }),
);

export const jobs = {
  'results-cleanup': {
    description: 'Deletes expired task results by ordered retention rules; optionally archives them first.',
    schedule: 'cron(0 3 * * ? *)',
    timezone: 'UTC',
    flexibleWindowMinutes: 15,
    get settings() {
      return resultsCleanupSettings();
    },
    timeoutSeconds: 900,
    memoryMb: 512,
    alarms: [
      {
        stat: 'remaining',
        above: 0,
        runs: 2,
        why: 'two daily runs in a row ended with expired results left: the table grows faster than cleanup keeps up',
      },
    ],
    infra: {
      egress: false,
      buckets: [{ bucket: 'archive', access: 'write', prefix: 'results/', env: 'RESULTS_ARCHIVE_URL' }],
      dashboard: ['deleted', 'remaining', 'archived', 'longestBatchMs'],
    },
  },
  'outbox-deliver': {
    description: 'Fans outbox events out to subscribed endpoints and POSTs signed webhooks, retrying with backoff. Also the SQS fast path.',
    schedule: 'rate(1 minute)',
    timezone: 'UTC',
    flexibleWindowMinutes: 0,
    get settings() {
      return outboxDeliverSettings();
    },
    // Longer than the schedule's period on purpose: a backlog is worked through by one run while
    // the overlapping invocations skip on the job lock.
    timeoutSeconds: 300,
    memoryMb: 512,
    alarms: [
      { stat: 'failed', above: 0, runs: 1, why: 'a webhook delivery exhausted its retries or its endpoint was gone' },
      { stat: 'remaining', above: 1_000, runs: 5, why: 'due deliveries are piling up faster than they go out' },
      { stat: 'endpointsDisabled', above: 0, runs: 1, why: 'an endpoint was disabled automatically' },
    ],
    // It POSTs to subscribers' endpoints on the internet, and decrypts their secrets.
    infra: {
      egress: true,
      dispatchQueue: 'consume',
      webhookKeys: true,
      dashboard: ['delivered', 'retried', 'failed', 'remaining', 'endpointsDisabled'],
    },
  },
  'outbox-cleanup': {
    description: 'Deletes delivered and failed outbox events older than the retention, with their deliveries.',
    schedule: 'cron(30 */6 * * ? *)',
    timezone: 'UTC',
    flexibleWindowMinutes: 15,
    get settings() {
      return outboxCleanupSettings();
    },
    timeoutSeconds: 300,
    memoryMb: 256,
    alarms: [{ stat: 'remaining', above: 0, runs: 2, why: 'terminal events are accumulating faster than cleanup removes them' }],
    infra: { egress: false, dashboard: ['deleted', 'remaining'] },
  },
  'uploads-cleanup': {
    description: 'Deletes expired uploads: the storage object first, then the row.',
    schedule: 'rate(6 hours)',
    timezone: 'UTC',
    flexibleWindowMinutes: 15,
    get settings() {
      return uploadsCleanupSettings();
    },
    timeoutSeconds: 900,
    memoryMb: 512,
    alarms: [
      { stat: 'failed', above: 0, runs: 2, why: 'objects keep failing to delete: check the bucket policy and the function role' },
      { stat: 'remaining', above: 0, runs: 2, why: 'expired uploads are piling up faster than cleanup removes them' },
    ],
    infra: {
      egress: false,
      buckets: [{ bucket: 'uploads', access: 'delete', env: 'UPLOADS_STORAGE_URL' }],
      dashboard: ['deleted', 'missing', 'failed', 'remaining', 'bytesFreed'],
    },
  },
  'uploads-notify': {
    description: 'Publishes one file.expiring outbox event per upload nearing expiry, idempotently.',
    schedule: 'rate(1 hour)',
    timezone: 'UTC',
    flexibleWindowMinutes: 5,
    get settings() {
      return uploadsNotifySettings();
    },
    timeoutSeconds: 120,
    memoryMb: 256,
    alarms: [],
    infra: { egress: false, dispatchQueue: 'send', dashboard: ['notified', 'skipped', 'dispatchFailed'] },
  },
  'tables-cleanup': {
    description:
      "Deletes rows past retention from any table by TABLE_RETENTION policies (kombu's broker table, Django sessions, audit logs).",
    schedule: 'rate(1 hour)',
    timezone: 'UTC',
    flexibleWindowMinutes: 10,
    get settings() {
      return tablesCleanupSettings();
    },
    timeoutSeconds: 900,
    memoryMb: 512,
    alarms: [
      {
        stat: 'remaining',
        above: 0,
        runs: 3,
        why: 'three runs in a row ended with expired rows left: a table grows faster than cleanup keeps up, or its batches keep losing lock races',
      },
      {
        stat: 'backlogTotal',
        above: 0,
        runs: 3,
        rising: true,
        why: "kombu's pending messages grew three runs in a row: a worker has stopped consuming (or cannot keep up)",
      },
    ],
    infra: {
      egress: false,
      // Policies with "archive" write beside the results archive, under tables/ only.
      buckets: [{ bucket: 'archive', access: 'write', prefix: 'tables/', env: 'RESULTS_ARCHIVE_URL' }],
      dashboard: ['deleted', 'remaining', 'skippedBatches', 'backlogTotal'],
    },
  },
} satisfies Record<string, JobDefinition>;

export type JobName = keyof typeof jobs;
export type JobSettings<Name extends JobName> = z.output<(typeof jobs)[Name]['settings']>;

export const jobNames = Object.keys(jobs) as JobName[];

export function isJobName(name: string): name is JobName {
  return Object.hasOwn(jobs, name);
}

/** The task name a job's runs are recorded under in `task_results`. */
export function runTaskName(job: JobName): string {
  return `chores.${job}`;
}
