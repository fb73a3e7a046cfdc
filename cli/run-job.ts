import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import type { Config } from '../shared/config.js';
import { createPool } from '../shared/db/pool.js';
import { jobs, type JobName } from '../shared/jobs.js';
import type { JobOutcome } from '../shared/runtime/handler.js';
import { localContext } from '../shared/runtime/local-context.js';
import { METRICS_NAMESPACE } from '../shared/runtime/metrics.js';
import type { JobRuntime } from '../shared/runtime/runtime.js';

type Handler = (event: unknown, context: Context) => Promise<unknown>;
type FunctionModule = { makeHandler: (runtime: JobRuntime) => Handler };

/**
 * Locally there is no CloudWatch to read EMF, and an EMF line on stdout would break `--json`: each
 * run's stats are printed by the command instead, so the metrics are dropped at publish time.
 */
class LocalMetrics extends Metrics {
  override publishStoredMetrics(): this {
    this.clearMetrics();
    this.clearDimensions();
    this.clearMetadata();
    return this;
  }
}

/**
 * Each job's real handler (functions/<job>.ts, the module CDK bundles) run in this process, given
 * a runtime of its own as its Lambda container would have: its own pool (a job holding its lock
 * connection never starves another), logger and metrics. Built on first use, closed by `close()`.
 */
export class LocalJobs {
  private readonly containers = new Map<JobName, Promise<{ handler: Handler; runtime: JobRuntime }>>();

  constructor(
    private readonly config: Config,
    private readonly options: { verbose: boolean },
  ) {}

  async run(job: JobName, payload: object): Promise<JobOutcome> {
    return (await this.invoke(job, payload)) as JobOutcome;
  }

  /** Any event (a payload, or an SQS batch for outbox-deliver) through the job's real handler. */
  async invoke(job: JobName, event: unknown): Promise<unknown> {
    const { handler } = await this.container(job);
    // The job's full Lambda timeout, as in the cloud.
    const { timeoutSeconds, memoryMb } = jobs[job];
    return handler(event, localContext({ functionName: `chores-${job}-local`, remainingMs: timeoutSeconds * 1000, memoryMb }));
  }

  async close(): Promise<void> {
    const containers = await Promise.allSettled(this.containers.values());
    this.containers.clear();
    await Promise.all(containers.map((c) => (c.status === 'fulfilled' ? c.value.runtime.db.end() : undefined)));
  }

  private container(job: JobName) {
    let container = this.containers.get(job);
    if (!container) {
      container = this.build(job);
      this.containers.set(job, container);
    }
    return container;
  }

  private async build(job: JobName) {
    const { makeHandler } = (await import(`../functions/${job}.ts`)) as FunctionModule;
    const runtime: JobRuntime = {
      config: this.config,
      db: createPool(this.config.database),
      // Powertools' JSON logs would bury the human output; `--verbose` brings them back.
      logger: new Logger({ serviceName: 'chores', ...(!this.options.verbose && { logLevel: 'SILENT' }) }),
      metrics: new LocalMetrics({ namespace: METRICS_NAMESPACE, serviceName: 'chores' }),
    };
    try {
      return { handler: makeHandler(runtime), runtime };
    } catch (error) {
      await runtime.db.end();
      throw error;
    }
  }
}
