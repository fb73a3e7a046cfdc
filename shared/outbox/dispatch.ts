import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { isRowId } from '../db/params.js';
import * as z from '../zod.js'; // zod/mini, with English messages: see shared/zod.ts
import { MalformedDispatchMessageError } from './errors.js';

export interface DispatchReport {
  /** Event ids handed to the fast path. */
  sent: number;
  failed: { eventIds: string[]; error: string }[];
}

/** Hands committed event ids to the fast path. */
export interface EventDispatcher {
  dispatch(eventIds: string[]): Promise<DispatchReport>;
}

// SQS takes at most 10 entries per SendMessageBatch. 50 ids per message keeps each record's
// delivery work well inside one Lambda invocation.
const ENTRIES_PER_CALL = 10;
const IDS_PER_MESSAGE = 50;

/** The dispatch queue's message body, the public contract for producers in any language. */
export const DispatchMessage = z.strictObject({
  eventIds: z
    .array(
      z.pipe(
        z.union([
          z.string().check(z.refine(isRowId, 'must be an event id (digits, within bigint)')),
          z.number().check(z.int(), z.nonnegative()),
        ]),
        z.transform(String),
      ),
    )
    .check(z.minLength(1), z.maxLength(1_000)),
});

/** Parses one SQS record body; throws naming what is wrong. */
export function parseDispatchMessage(body: string): string[] {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new MalformedDispatchMessageError(`dispatch message is not JSON: ${JSON.stringify(body.slice(0, 100))}`);
  }
  const parsed = DispatchMessage.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
    throw new MalformedDispatchMessageError(`dispatch message must be {"eventIds": [<event id>, …]}: ${problems}`);
  }
  return parsed.data.eventIds;
}

/** Sends `{"eventIds": [...]}` messages to the dispatch queue with SendMessageBatch. */
export class SqsDispatcher implements EventDispatcher {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async dispatch(eventIds: string[]): Promise<DispatchReport> {
    const messages = chunk(eventIds, IDS_PER_MESSAGE);
    const report: DispatchReport = { sent: 0, failed: [] };
    for (const entries of chunk(messages, ENTRIES_PER_CALL)) {
      try {
        const output = await this.sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: entries.map((ids, index) => ({ Id: String(index), MessageBody: JSON.stringify({ eventIds: ids }) })),
          }),
        );
        for (const failure of output.Failed ?? []) {
          report.failed.push({ eventIds: entries[Number(failure.Id)]!, error: `${failure.Code}: ${failure.Message ?? ''}`.trim() });
        }
        for (const success of output.Successful ?? []) report.sent += entries[Number(success.Id)]!.length;
      } catch (error) {
        report.failed.push({ eventIds: entries.flat(), error: (error as Error).message });
      }
    }
    return report;
  }
}

/** The local fast path: hands ids straight to an in-process deliverer (chores dev, tests, bench). */
export class InProcessDispatcher implements EventDispatcher {
  constructor(private readonly deliver: (eventIds: string[]) => Promise<unknown>) {}

  async dispatch(eventIds: string[]): Promise<DispatchReport> {
    try {
      await this.deliver(eventIds);
      return { sent: eventIds.length, failed: [] };
    } catch (error) {
      return { sent: 0, failed: [{ eventIds, error: (error as Error).message }] };
    }
  }
}

function chunk<T>(items: T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}
