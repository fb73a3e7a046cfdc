import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { firingAlarms } from '../../shared/alarms.js';
import { loadConfig } from '../../shared/config.js';
import { jobs } from '../../shared/jobs.js';
import { createJobHandler } from '../../shared/runtime/handler.js';
import { cleanupTables } from '../../shared/tables/cleanup.js';
import { testDatabase } from '../helpers/db.js';
import { freshEntry, lambdaContext } from '../helpers/lambda.js';
import { captureEmf } from '../helpers/emf.js';

const { db, url } = await testDatabase();
const KOMBU = '[{"preset":"kombu","keep":"1h"}]';

beforeAll(async () => {
  // kombu's own transport creates and fills its tables: 3 messages for celery (1 taken), 2 for mail.
  await promisify(execFile)('/usr/bin/python3', [
    new URL('../fixtures/kombu-broker.py', import.meta.url).pathname,
    url,
    'publish:celery:3',
    'publish:mail:2',
    'consume:celery:1',
  ]);
  await db.query(`UPDATE kombu_message SET "timestamp" = "timestamp" - interval '2 hours' WHERE NOT visible`);
});
afterEach(() => {
  vi.unstubAllEnvs();
});

describe('the real tables-cleanup Lambda entry', () => {
  it('dry-runs from a manual payload: counts, deletes nothing, and refuses unknown settings', async () => {
    const handler = await freshEntry(() => import('../../functions/tables-cleanup.js'), { DATABASE_URL: url, TABLE_RETENTION: KOMBU });

    const outcome = await handler({ dryRun: true }, lambdaContext());

    expect(outcome).toMatchObject({
      job: 'tables-cleanup',
      dryRun: true,
      deleted: 0,
      wouldDelete: 1,
      byPolicy: { kombu: 1 },
      accessPaths: { kombu: 'heap' },
    });
    expect((await db.query('SELECT count(*)::int AS n FROM kombu_message')).rows[0].n).toBe(5);
    await expect(handler({ dryrun: true }, lambdaContext())).rejects.toThrow(/unknown setting "dryrun"/);
  });

  it("publishes kombu's backlog as one metric per queue under a Queue dimension, and the total beside the other stats", async () => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    const config = loadConfig({ DATABASE_URL: url, TABLE_RETENTION: KOMBU });
    const runtime = {
      config,
      db,
      logger: new Logger({ serviceName: 'chores', logLevel: 'SILENT' }),
      metrics: new Metrics({ namespace: 'Chores', serviceName: 'chores' }),
    };
    const handler = createJobHandler('tables-cleanup', runtime, ({ settings, budget, runId }) =>
      cleanupTables({ db, policies: config.tables.policies, settings, budget, runId }),
    );

    const emf = await captureEmf(() => handler({ dryRun: true }, lambdaContext()));
    const perQueue = emf.filter((doc) => 'Queue' in doc);
    const main = emf.find((doc) => !('Queue' in doc))!;

    expect(perQueue.map((doc) => [doc.Queue, doc.backlog, doc.Job]).sort()).toEqual([
      ['celery', 2, 'tables-cleanup'],
      ['mail', 2, 'tables-cleanup'],
    ]);
    for (const doc of perQueue)
      expect((doc._aws as { CloudWatchMetrics: { Dimensions: string[][] }[] }).CloudWatchMetrics[0]!.Dimensions[0]).toEqual(
        expect.arrayContaining(['Job', 'Queue']),
      );
    expect(main).toMatchObject({ Job: 'tables-cleanup', backlogTotal: 4, wouldDelete: 1, dryRun: 1 });
    expect(main).not.toHaveProperty('Queue');
  });
});

describe('the growing-backlog alarm', () => {
  const rules = jobs['tables-cleanup'].alarms.filter((rule) => rule.stat === 'backlogTotal');

  it('fires when the backlog grew in each of the last three runs, whatever its size', () => {
    expect(firingAlarms(rules, [{ backlogTotal: 40 }, { backlogTotal: 30 }, { backlogTotal: 20 }, { backlogTotal: 10 }])).toHaveLength(1);
  });

  it('stays quiet for a large but steady or draining backlog, and without enough history', () => {
    expect(firingAlarms(rules, [{ backlogTotal: 900 }, { backlogTotal: 900 }, { backlogTotal: 800 }, { backlogTotal: 700 }])).toEqual([]);
    expect(firingAlarms(rules, [{ backlogTotal: 40 }, { backlogTotal: 30 }, { backlogTotal: 20 }])).toEqual([]);
    expect(firingAlarms(rules, [{ backlogTotal: 40 }, { backlogTotal: 50 }, { backlogTotal: 20 }, { backlogTotal: 10 }])).toEqual([]);
  });
});
