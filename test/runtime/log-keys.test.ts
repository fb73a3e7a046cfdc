import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../shared/config.js';
import { createJobHandler } from '../../shared/runtime/handler.js';
import type { JobRuntime } from '../../shared/runtime/runtime.js';
import { testDatabase } from '../helpers/db.js';
import { lambdaContext } from '../helpers/lambda.js';

const { db, url } = await testDatabase();

afterEach(() => {
  vi.unstubAllEnvs();
});

/** The JSON log lines Powertools Logger writes (errors and warnings to stderr) while `work` runs. */
async function captureLogs(work: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const lines: string[] = [];
  const capture = (chunk: unknown) => {
    lines.push(String(chunk));
    return true;
  };
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation(capture),
    vi.spyOn(process.stderr, 'write').mockImplementation(capture),
  ];
  try {
    await work();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return lines
    .flatMap((line) => line.split('\n'))
    .filter((line) => line.startsWith('{') && line.includes('"message"'))
    .map((line) => JSON.parse(line));
}

describe('log lines of a run', () => {
  it('carry the job, the run id and the request id on every line, the service’s own included, and not into the next invocation', async () => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
    const runtime: JobRuntime = {
      config: loadConfig({ DATABASE_URL: url }),
      db,
      logger: new Logger({ serviceName: 'chores', logLevel: 'INFO' }),
      metrics: new Metrics({ namespace: 'Chores', serviceName: 'chores' }),
    };
    const handler = createJobHandler('outbox-cleanup', runtime, async ({ logger }) => {
      logger.info('service line');
      return { deleted: 0, remaining: 0, truncated: false };
    });

    const first = await captureLogs(() => handler({}, { ...lambdaContext(), awsRequestId: 'req-1' }));
    // An invocation that never starts a run (its payload is refused) must not inherit the last run's id.
    const second = await captureLogs(() => handler({ bogus: true }, { ...lambdaContext(), awsRequestId: 'req-2' }).catch(() => {}));

    const runIds = (lines: Record<string, unknown>[]) => new Set(lines.map((line) => line.runId));
    expect(first.map((line) => line.message)).toEqual(['service line', 'run finished']);
    for (const line of first)
      expect(line).toMatchObject({ job: 'outbox-cleanup', function_request_id: 'req-1', runId: expect.any(String) });
    expect(runIds(first).size).toBe(1);
    expect(second.map((line) => line.message)).toEqual(['invalid payload; nothing was run']);
    expect(second[0]).toMatchObject({ job: 'outbox-cleanup', function_request_id: 'req-2' });
    expect(second[0]).not.toHaveProperty('runId');
  });
});
