import * as z from 'zod'; // a namespace import keeps Lambda bundles small: see shared/config.ts
import { parseTimeOrAgo } from './duration.js';
import { DEFAULT_BATCH_SIZE } from './results/cleanup.js';

/**
 * The one registry of jobs. The CDK stack, the local runner, the CLI and the docs all read it:
 * a job removed here loses its function, schedule and alarms everywhere at once.
 */

/** A threshold on one of a job's stats, turned into a CloudWatch alarm (and checked locally). */
export interface AlarmRule {
  stat: string;
  /** Fires when the stat is above this value ... */
  above: number;
  /** ... for this many consecutive runs. */
  runs: number;
  why: string;
}

export interface JobDefinition<Settings extends z.ZodType = z.ZodType> {
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
}

const resultsCleanupSettings = z.strictObject({
  dryRun: z.boolean().default(false),
  batchSize: z.int().min(1).max(50_000).default(DEFAULT_BATCH_SIZE),
  olderThanDays: z.number().positive().optional(),
});

const id = z.union([z.string().regex(/^\d+$/, 'must be a numeric id'), z.int().positive()]).transform(String);
const time = z.string().transform((text, ctx) => {
  try {
    return parseTimeOrAgo(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

/** outbox-deliver's manual payload `{"replay": {…}}`: the same replay as `chores outbox replay`. */
const outboxDeliverSettings = z.strictObject({
  replay: z
    .strictObject({
      endpointId: id,
      since: time.optional(),
      until: time.optional(),
      eventId: id.optional(),
      status: z.enum(['failed', 'all']).default('failed'),
      dryRun: z.boolean().default(false),
    })
    .optional(),
});

export const jobs = {
  'results-cleanup': {
    description: 'Deletes expired task results by ordered retention rules; optionally archives them first.',
    schedule: 'cron(0 3 * * ? *)',
    timezone: 'UTC',
    flexibleWindowMinutes: 15,
    settings: resultsCleanupSettings,
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
  },
  'outbox-deliver': {
    description: 'Fans outbox events out to subscribed endpoints and POSTs signed webhooks, retrying with backoff. Also the SQS fast path.',
    schedule: 'rate(1 minute)',
    timezone: 'UTC',
    flexibleWindowMinutes: 0,
    settings: outboxDeliverSettings,
    // Longer than the schedule's period on purpose: a backlog is worked through by one run while
    // the overlapping invocations skip on the job lock.
    timeoutSeconds: 300,
    memoryMb: 512,
    alarms: [
      { stat: 'failed', above: 0, runs: 1, why: 'a webhook delivery exhausted its retries or its endpoint was gone' },
      { stat: 'remaining', above: 1_000, runs: 5, why: 'due deliveries are piling up faster than they go out' },
      { stat: 'endpointsDisabled', above: 0, runs: 1, why: 'an endpoint was disabled automatically' },
    ],
  },
  'outbox-cleanup': {
    description: 'Deletes delivered and failed outbox events older than the retention, with their deliveries.',
    schedule: 'cron(30 */6 * * ? *)',
    timezone: 'UTC',
    flexibleWindowMinutes: 15,
    settings: z.strictObject({ retentionHours: z.number().positive().optional() }),
    timeoutSeconds: 300,
    memoryMb: 256,
    alarms: [{ stat: 'remaining', above: 0, runs: 2, why: 'terminal events are accumulating faster than cleanup removes them' }],
  },
  'uploads-cleanup': {
    description: 'Deletes expired uploads: the storage object first, then the row.',
    schedule: 'rate(6 hours)',
    timezone: 'UTC',
    flexibleWindowMinutes: 15,
    settings: z.strictObject({}),
    timeoutSeconds: 900,
    memoryMb: 512,
    alarms: [
      { stat: 'failed', above: 0, runs: 2, why: 'objects keep failing to delete: check the bucket policy and the function role' },
      { stat: 'remaining', above: 0, runs: 2, why: 'expired uploads are piling up faster than cleanup removes them' },
    ],
  },
  'uploads-notify': {
    description: 'Publishes one file.expiring outbox event per upload nearing expiry, idempotently.',
    schedule: 'rate(1 hour)',
    timezone: 'UTC',
    flexibleWindowMinutes: 5,
    settings: z.strictObject({}),
    timeoutSeconds: 120,
    memoryMb: 256,
    alarms: [],
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
