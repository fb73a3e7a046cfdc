import type { SQSEvent } from 'aws-lambda';

/**
 * An SQS batch with these bodies, as Lambda delivers one. The local stack's in-process queue
 * (./fast-path.ts) hands these to the real outbox-deliver handler; tests build theirs with it too.
 * It lives here, not in shared/, because nothing deployed ever builds an SQS event.
 */
export function sqsBatch(bodies: string[]): SQSEvent {
  const now = String(Date.now());
  return {
    Records: bodies.map((body, i) => ({
      messageId: `m-${i}`,
      receiptHandle: `r-${i}`,
      body,
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: now, SenderId: 'local', ApproximateFirstReceiveTimestamp: now },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:local:000000000000:chores-dispatch',
      awsRegion: 'local',
    })),
  };
}
