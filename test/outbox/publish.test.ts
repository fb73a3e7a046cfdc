import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { InProcessDispatcher, parseDispatchMessage, SqsDispatcher } from '../../shared/outbox/dispatch.js';
import { publish, publishInTransaction } from '../../shared/outbox/publish.js';
import { schema, testDatabase } from '../helpers/db.js';

const { db } = await testDatabase();
const sqsMock = mockClient(SQSClient);

beforeEach(async () => {
  sqsMock.reset();
  await db.query('TRUNCATE chores.outbox_events CASCADE');
});

describe('publishing events', () => {
  it('returns the existing event for a repeated idempotency key and creates no second row', async () => {
    const client = await db.connect();
    try {
      const first = await publish(client, schema, { type: 'order.paid', payload: { id: 1 }, idempotencyKey: 'order.paid:1' });
      const again = await publish(client, schema, { type: 'order.paid', payload: { id: 1 }, idempotencyKey: 'order.paid:1' });

      expect(first.created).toBe(true);
      expect(again).toEqual({ id: first.id, created: false });
      expect((await client.query('SELECT count(*)::int AS n FROM chores.outbox_events')).rows[0].n).toBe(1);
    } finally {
      client.release();
    }
  });

  it('leaves nothing behind when the caller’s transaction rolls back, and dispatches nothing', async () => {
    const dispatched: string[][] = [];
    const dispatcher = new InProcessDispatcher(async (ids) => dispatched.push(ids));

    const attempt = publishInTransaction(db, schema, dispatcher, async (_tx, publishEvent) => {
      await publishEvent({ type: 'x', payload: {} });
      throw new Error('the business write failed');
    });

    await expect(attempt).rejects.toThrow('the business write failed');
    expect((await db.query('SELECT count(*)::int AS n FROM chores.outbox_events')).rows[0].n).toBe(0);
    expect(dispatched).toEqual([]);
  });

  it('dispatches only newly created events, after commit', async () => {
    const dispatched: string[][] = [];
    let visibleAtDispatch = -1;
    const dispatcher = new InProcessDispatcher(async (ids) => {
      dispatched.push(ids);
      visibleAtDispatch = (await db.query('SELECT count(*)::int AS n FROM chores.outbox_events')).rows[0].n;
    });
    const client = await db.connect();
    await publish(client, schema, { type: 'x', payload: {}, idempotencyKey: 'seen-before' });
    client.release();

    const { published } = await publishInTransaction(db, schema, dispatcher, async (_tx, publishEvent) => {
      await publishEvent({ type: 'x', payload: {}, idempotencyKey: 'seen-before' });
      await publishEvent({ type: 'y', payload: {} });
    });

    expect(dispatched).toEqual([[published[1]!.id]]);
    expect(visibleAtDispatch).toBe(2);
  });
});

describe('the SQS dispatcher', () => {
  it('sends {"eventIds": [...]} messages, ten per SendMessageBatch call', async () => {
    sqsMock
      .on(SendMessageBatchCommand)
      .callsFake((input) => ({ Successful: input.Entries.map((e: { Id: string }) => ({ Id: e.Id })), Failed: [] }));
    const ids = Array.from({ length: 600 }, (_, i) => String(i + 1));

    const report = await new SqsDispatcher(new SQSClient({ region: 'eu-west-1' }), 'https://sqs.example/q').dispatch(ids);
    const calls = sqsMock.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input);

    expect(report).toEqual({ sent: 600, failed: [] });
    expect(calls.map((c) => c.Entries!.length)).toEqual([10, 2]);
    expect(calls[0]!.QueueUrl).toBe('https://sqs.example/q');
    expect(calls.flatMap((c) => c.Entries!.flatMap((e) => JSON.parse(e.MessageBody!).eventIds))).toEqual(ids);
  });

  it('reports failed entries and failed calls with the event ids they carried', async () => {
    sqsMock
      .on(SendMessageBatchCommand)
      .resolvesOnce({
        Successful: [{ Id: '0', MessageId: 'm', MD5OfMessageBody: 'x' }],
        Failed: [{ Id: '1', Code: 'Throttled', SenderFault: false, Message: 'slow down' }],
      })
      .rejectsOnce(new Error('network down'));
    // 600 ids → 12 messages of 50 → a call with 10 entries, then a call with 2.
    const ids = Array.from({ length: 600 }, (_, i) => String(i + 1));

    const report = await new SqsDispatcher(new SQSClient({ region: 'eu-west-1' }), 'q').dispatch(ids);

    expect(report.sent).toBe(50);
    expect(report.failed[0]).toEqual({ eventIds: ids.slice(50, 100), error: 'Throttled: slow down' });
    expect(report.failed[1]).toEqual({ eventIds: ids.slice(500, 600), error: 'network down' });
  });

  it('parses the dispatch message and names what is wrong with a bad one', () => {
    expect(parseDispatchMessage('{"eventIds":[1,"2"]}')).toEqual(['1', '2']);
    expect(() => parseDispatchMessage('nope')).toThrow(/not JSON/);
    expect(() => parseDispatchMessage('{"ids":[1]}')).toThrow(/must be \{"eventIds"/);
    expect(() => parseDispatchMessage('{"eventIds":[]}')).toThrow(/eventIds/);
    expect(() => parseDispatchMessage('{"eventIds":["x"]}')).toThrow(/eventIds/);
  });

  it('refuses an event id beyond bigint in a dispatch message, naming it, where Postgres failed the record with its own error', () => {
    expect(parseDispatchMessage('{"eventIds":["9223372036854775807"]}')).toEqual(['9223372036854775807']);
    expect(() => parseDispatchMessage('{"eventIds":["9223372036854775808"]}')).toThrow(
      /eventIds\.0: must be an event id \(digits, within bigint\)/,
    );
  });
});
