import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

// Lambda's own retries of a scheduled run that threw. One, on purpose: runs are idempotent and
// single-flight, so a transient fault (a proxy failover, a lock timeout) gets a second attempt about a
// minute later instead of waiting for the next schedule (a day, for results-cleanup). A failure that
// repeats is deterministic (configuration, a bad rule, the database down); a third attempt would only
// add another FAILURE row. Scheduler's own retries (infra/stack.ts) cover invocations it could not make.
export const ASYNC_RETRIES = 1;
// An event older than this is dropped to the queue instead of run: a run due an hour ago is stale, and
// the next scheduled one is on its way. Matches Scheduler's maximum event age.
const MAX_EVENT_AGE = Duration.hours(1);

/**
 * Where a scheduled run that failed lands: Lambda's on-failure destination for asynchronous
 * invocations, a queue whose messages hold the request payload and the error (type, message,
 * stack). Without it a run that throws gets Lambda's retries and vanishes.
 */
export class FailedRuns extends Construct {
  readonly queue: sqs.Queue;

  constructor(scope: Construct, id: string, props: { queueName: string }) {
    super(scope, id);
    this.queue = new sqs.Queue(this, 'Queue', {
      queueName: props.queueName,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
  }

  /** Sends `fn`'s failed asynchronous invocations here, after {@link ASYNC_RETRIES} retries. */
  watch(fn: lambda.Function): void {
    fn.configureAsyncInvoke({
      retryAttempts: ASYNC_RETRIES,
      maxEventAge: MAX_EVENT_AGE,
      onFailure: new destinations.SqsDestination(this.queue),
    });
  }
}
