import type { SQSEvent } from 'aws-lambda';
import type { Db } from '../../shared/db/pool.js';
import type { SchemaName } from '../../shared/db/identifiers.js';
import { pendingEventIds } from '../../shared/outbox/sql.js';
import { sqsBatch } from './sqs-batch.js';

// How often the local queue looks for committed, undelivered events. SQS long polling delivers in
// well under a second too; this keeps the local stack's feel close to the deployed one.
const POLL_MS = 500;

/**
 * The local stand-in for the SQS dispatch queue: committed events that nobody has fanned out yet
 * are handed to the real outbox-deliver handler as an SQS batch, so anything published (from a
 * job, `chores outbox publish` in another terminal, or your app) goes out within a second.
 */
export function startLocalQueue(
  db: Db,
  schema: SchemaName,
  deliver: (event: SQSEvent) => Promise<unknown>,
  log: (line: string) => void,
): { stop(): Promise<void> } {
  let stopped = false;
  let busy: Promise<unknown> = Promise.resolve();
  const tick = async () => {
    const { rows } = await db.query<{ id: string }>(pendingEventIds(schema, 50));
    if (rows.length === 0) return;
    await deliver(sqsBatch([JSON.stringify({ eventIds: rows.map((row) => row.id) })]));
  };
  const timer = setInterval(() => {
    if (!stopped) busy = busy.then(tick).catch((error: Error) => log(`fast path failed: ${error.message} (the next sweep delivers)`));
  }, POLL_MS);
  return {
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await busy;
    },
  };
}
