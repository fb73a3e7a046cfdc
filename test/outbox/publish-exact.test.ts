import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeEach, describe, expect, it } from 'vitest';
import { publish, type NewEvent } from '../../shared/outbox/publish.js';
import { deliverEvents } from '../../shared/outbox/service.js';
import { schema, testDatabase } from '../helpers/db.js';
import { addTestEndpoint, outboxDeps } from '../helpers/outbox.js';
import { startReceiver } from '../helpers/receiver.js';

const { db, url } = await testDatabase();
const receiver = await startReceiver();
const BIN = join(import.meta.dirname, '../../bin/chores.mjs');
const BIG = '12345678901234567891'; // past 2^64, and past a double's 15–17 significant digits
const HUGE = `1${'0'.repeat(400)}`; // 1e400: Infinity to a JS number, exact to Postgres numeric

async function publishOne(event: NewEvent) {
  const client = await db.connect();
  try {
    return await publish(client, schema, event);
  } finally {
    client.release();
  }
}

async function storedPayload(id: string): Promise<string> {
  const { rows } = await db.query('SELECT payload::text AS text FROM chores.outbox_events WHERE id = $1', [id]);
  return rows[0].text;
}

const eventCount = async () => (await db.query('SELECT count(*)::int AS n FROM chores.outbox_events')).rows[0].n;

beforeEach(async () => {
  await db.query('TRUNCATE chores.outbox_events, chores.webhook_endpoints CASCADE');
});

describe('payloads are stored as the producer wrote them', () => {
  it('keeps every digit of a payload given as JSON text, where a JS number would round it', async () => {
    const { id } = await publishOne({ type: 'order.paid', payloadJson: `{"n": ${BIG}, "x": 1e400, "price": 12.50}` });

    expect(await storedPayload(id)).toBe(`{"n": ${BIG}, "x": ${HUGE}, "price": 12.50}`);
    expect(String(JSON.parse(`{"n": ${BIG}}`).n)).not.toBe(BIG); // what re-serialising in JS did before
  });

  it('refuses payload text that is not JSON, or that Postgres cannot store, publishing nothing', async () => {
    await expect(publishOne({ type: 'x', payloadJson: '{"a": 1,}' })).rejects.toThrow(/^payload is not valid JSON: /);
    await expect(publishOne({ type: 'x', payloadJson: '{"x": 1e200000}' })).rejects.toThrow(
      'payload refused by Postgres: value overflows numeric format — nothing was published',
    );
    await expect(publishOne({ type: 'x', payloadJson: '{"a": "\\u0000"}' })).rejects.toThrow(
      /payload refused by Postgres: unsupported Unicode escape/,
    );
    await expect(publishOne({ type: 'x', payload: { n: 1n } })).rejects.toThrow(/cannot be serialised as JSON.*payloadJson/);
    expect(await eventCount()).toBe(0);
  });

  // Spawns the real CLI (tsx compiles and loads it: a few seconds on a loaded 2-core machine).
  it('gets the CLI payload to the receiver with the same digits: publish → row → signed POST', { timeout: 60_000 }, async () => {
    await addTestEndpoint(db, `${receiver.url}/exact`);

    const { stdout } = await promisify(execFile)(
      'node',
      [BIN, 'outbox', 'publish', '--type', 'order.paid', '--payload', `{"n": ${BIG}, "x": 1e400}`, '--json'],
      { env: { ...process.env, DATABASE_URL: url } },
    );
    const { event } = JSON.parse(stdout) as { event: { id: string } };
    await deliverEvents(outboxDeps(db, url), [event.id]);
    const delivered = receiver.received.find((request) => request.path === '/exact')!;

    expect(await storedPayload(event.id)).toBe(`{"n": ${BIG}, "x": ${HUGE}}`);
    expect(delivered.body).toContain(`"data":{"n": ${BIG}, "x": ${HUGE}}`);
  });
});

describe('event types', () => {
  it.each([
    ['empty', '', /invalid event type "": an event type is 1 to 200 characters, with no control characters/],
    ['10 KB long', 'a'.repeat(10_240), /invalid event type "a{40}…" \(10240 characters\): an event type is 1 to 200 characters/],
    ['with a newline', 'order.paid\nFAKE LOG LINE', /invalid event type "order\.paid\\nFAKE LOG LINE": .*no control characters/],
    ['with a C1 control', 'order\u0085paid', /no control characters/],
  ])('refuses one that is %s at publish, naming the rule, and stores nothing', async (_name, type, message) => {
    await expect(publishOne({ type, payload: {} })).rejects.toThrow(message);

    expect(await eventCount()).toBe(0);
  });

  it('accepts one at the limit', async () => {
    await expect(publishOne({ type: 't'.repeat(200), payload: {} })).resolves.toMatchObject({ created: true });
  });

  it('holds SQL producers to the same rule with a CHECK constraint', async () => {
    const insert = (type: string) => db.query(`INSERT INTO chores.outbox_events (event_type) VALUES ($1)`, [type]);

    await expect(insert('')).rejects.toThrow(/outbox_events_event_type_check/);
    await expect(insert('x'.repeat(201))).rejects.toThrow(/outbox_events_event_type_check/);
    await expect(insert('tab\there')).rejects.toThrow(/outbox_events_event_type_check/);
    await expect(insert('order.paid')).resolves.toMatchObject({ rowCount: 1 });
  });
});
