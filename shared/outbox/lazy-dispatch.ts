import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Tracing } from '../tracing/tracing.js';
import type { DispatchReport, EventDispatcher } from './dispatch.js';

/**
 * An `SqsDispatcher` whose SQS client is imported on the first dispatch: the client is ~190 KiB,
 * and most runs of uploads-notify have no notice to send. With `tracing`, each SendMessageBatch is a
 * subsegment, and the SDK sends that subsegment's trace header, which SQS keeps as the messages'
 * `AWSTraceHeader`: the fast path's deliveries link back to this run.
 */
export function lazySqsDispatcher(queueUrl: string, tracing?: Tracing, sqs?: SQSClient): EventDispatcher {
  let dispatcher: Promise<EventDispatcher> | undefined;
  const open = async (): Promise<EventDispatcher> => {
    const [{ SQSClient }, { SqsDispatcher }] = await Promise.all([import('@aws-sdk/client-sqs'), import('./dispatch.js')]);
    const client = sqs ?? new SQSClient({});
    return new SqsDispatcher(tracing ? tracing.awsClient(client) : client, queueUrl);
  };
  return {
    async dispatch(eventIds: string[]): Promise<DispatchReport> {
      dispatcher ??= open();
      return (await dispatcher).dispatch(eventIds);
    },
  };
}
