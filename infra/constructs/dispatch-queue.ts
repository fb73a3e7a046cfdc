import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

// A message whose records keep failing (malformed bodies) is parked after this many receives.
const MAX_RECEIVES = 5;
// Fast-path invocations in parallel at most: each holds database connections through the proxy,
// and the sweep catches up on anything that waits.
const MAX_CONCURRENCY = 5;

/**
 * The SQS fast path: producers send `{"eventIds": [...]}` after commit; outbox-deliver consumes it
 * with partial batch failures, so one bad record never redelivers its neighbours.
 */
export class DispatchQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetters: sqs.Queue;

  constructor(
    scope: Construct,
    id: string,
    props: { names: { dispatchQueue: string; dispatchDlq: string }; consumer: lambda.IFunction; consumerTimeout: Duration },
  ) {
    super(scope, id);
    this.deadLetters = new sqs.Queue(this, 'DeadLetters', {
      queueName: props.names.dispatchDlq,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      queueName: props.names.dispatchQueue,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // AWS's guidance for a Lambda event source: at least six times the function timeout, so a
      // message is not redelivered while a slow batch is still being worked on.
      visibilityTimeout: Duration.seconds(props.consumerTimeout.toSeconds() * 6),
      deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: MAX_RECEIVES },
    });
    props.consumer.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: 10,
        reportBatchItemFailures: true,
        maxConcurrency: MAX_CONCURRENCY,
        maxBatchingWindow: Duration.seconds(0),
      }),
    );
  }
}
