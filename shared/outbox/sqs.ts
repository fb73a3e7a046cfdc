import type { Logger } from '@aws-lambda-powertools/logger';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { parseDispatchMessage } from './dispatch.js';
import { emptyDeliveryStats, type DeliveryDeps } from './deliver.js';
import { deliverEvents, type OutboxDeliverStats } from './service.js';

/**
 * The SQS fast path: each record names events to deliver now. A malformed record fails alone
 * (reported in batchItemFailures, so SQS redrives it to the DLQ after its receives) and the rest of
 * the batch proceeds. A webhook that fails is not a record failure: its delivery is already
 * scheduled for retry by our own backoff, and an SQS retry would only send it early.
 */
export async function deliverSqsBatch(event: SQSEvent, deps: DeliveryDeps, logger: Logger) {
  // Imported here, not at init: only the fast path needs it, and a container that only sweeps never reads it.
  const { BatchProcessor, EventType, processPartialResponse } = await import('@aws-lambda-powertools/batch');
  const totals: OutboxDeliverStats = { ...emptyDeliveryStats(), fannedOut: 0, remaining: 0, truncated: false };
  let malformed = 0;
  const processor = new BatchProcessor(EventType.SQS);
  const handleRecord = async (record: SQSRecord) => {
    let eventIds: string[];
    try {
      eventIds = parseDispatchMessage(record.body);
    } catch (error) {
      malformed += 1;
      logger.error('malformed dispatch message; this record fails alone', { messageId: record.messageId, error: (error as Error).message });
      throw error;
    }
    const stats = await deliverEvents(deps, eventIds);
    for (const key of [
      'processed',
      'delivered',
      'retried',
      'failed',
      'superseded',
      'cancelled',
      'endpointsDisabled',
      'fannedOut',
    ] as const) {
      totals[key] += stats[key];
    }
    totals.remaining = stats.remaining;
    totals.truncated ||= stats.truncated;
  };
  // A batch whose every record failed is reported like any other, record by record, rather than
  // thrown: the failures are the records' own and SQS redrives exactly those.
  const response = await processPartialResponse(event, handleRecord, processor, { throwOnFullBatchFailure: false });
  return { response, stats: { ...totals, malformedRecords: malformed } };
}
