import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { PayloadTooLargeError } from '../../shared/outbox/errors.js';
import { publish } from '../../shared/outbox/publish.js';
import { sweepOutbox } from '../../shared/outbox/service.js';
import { schema, testDatabase } from '../helpers/db.js';
import { addTestEndpoint, deliveryRows, outboxDeps, publishEvents } from '../helpers/outbox.js';
import { startReceiver } from '../helpers/receiver.js';

const { db, url } = await testDatabase();
const deps = outboxDeps(db, url);
const receiver = await startReceiver();
const BIN = join(import.meta.dirname, '../../bin/chores.mjs');
const MB10 = 10 * 1024 * 1024;

beforeEach(async () => {
  await db.query('TRUNCATE chores.outbox_events, chores.webhook_endpoints CASCADE');
  receiver.received.length = 0;
});

/** Events inserted by SQL, around publish and its limit, as a non-TypeScript producer can. */
async function insertBlobs(count: number, bytes: number): Promise<void> {
  await db.query(
    `INSERT INTO chores.outbox_events (event_type, payload) SELECT 'blob', jsonb_build_object('blob', repeat('x', $2::int)) FROM generate_series(1, $1::int)`,
    [count, bytes],
  );
}

/**
 * A receiver that counts bodies without keeping them (300 MB must not pile up in the test), and the
 * most requests it ever had open at once. It holds each answer `holdMs`, so that requests sent
 * together are seen together.
 */
async function startCountingReceiver(holdMs = 0) {
  const seen = { requests: 0, bytes: 0, types: [] as string[], open: 0, mostOpen: 0 };
  const server = createServer((req, res) => {
    seen.mostOpen = Math.max(seen.mostOpen, ++seen.open);
    let head = '';
    req.on('data', (chunk: Buffer) => {
      seen.bytes += chunk.length;
      if (head.length < 64) head += chunk.subarray(0, 64).toString();
    });
    req.on('end', () => {
      seen.requests += 1;
      seen.types.push(/"type":"([^"]+)"/.exec(head)?.[1] ?? '?');
      setTimeout(() => {
        seen.open -= 1;
        res.end('ok');
      }, holdMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  afterAll(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

/** One sweep in a child process whose heap is capped at 300 MB, through the real CLI. */
async function sweepUnderSmallHeap(env: Record<string, string> = {}) {
  const { stdout } = await promisify(execFile)('node', ['--max-old-space-size=300', BIN, 'run', 'outbox-deliver', '--json'], {
    env: { ...process.env, DATABASE_URL: url, OUTBOX_ALLOW_HTTP: 'true', OUTBOX_ALLOWED_CIDRS: '127.0.0.1/32', ...env },
    maxBuffer: 1024 * 1024,
  });
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe('the payload limit at publish', () => {
  it('refuses a payload over OUTBOX_MAX_PAYLOAD_BYTES naming the limit and the variable, and writes nothing', async () => {
    const client = await db.connect();
    try {
      await client.query('BEGIN');
      const tooBig = publish(client, schema, { type: 'x', payload: { blob: 'y'.repeat(300 * 1024) } });
      await expect(tooBig).rejects.toThrow(PayloadTooLargeError);
      await expect(tooBig).rejects.toThrow(/is 307211 bytes, over the 262144-byte limit \(OUTBOX_MAX_PAYLOAD_BYTES\)/);
      // The refusal comes before any SQL, so the caller's transaction is still usable.
      const small = await publish(client, schema, { type: 'x', payload: { blob: 'y'.repeat(2_000) } }, { maxPayloadBytes: 2_048 });
      await client.query('COMMIT');

      expect(small.created).toBe(true);
      await expect(
        publish(client, schema, { type: 'x', payload: { blob: 'y'.repeat(2_100) } }, { maxPayloadBytes: 2_048 }),
      ).rejects.toThrow(/over the 2048-byte limit/);
      expect((await client.query('SELECT count(*)::int AS n FROM chores.outbox_events')).rows[0].n).toBe(1);
    } finally {
      client.release();
    }
  });

  // Spawns the real CLI (tsx compiles and loads it: 3 s on an idle machine, more under load).
  it('makes `chores outbox publish` exit 1 with a one-line reason naming the variable', { timeout: 60_000 }, async () => {
    const run = promisify(execFile)(
      'node',
      [BIN, 'outbox', 'publish', '--type', 'x', '--payload', JSON.stringify({ blob: 'y'.repeat(3_000) })],
      {
        env: { ...process.env, DATABASE_URL: url, OUTBOX_MAX_PAYLOAD_BYTES: '2048' },
      },
    );

    const failure = (await run.then(
      () => undefined,
      (error: unknown) => error,
    )) as { code: number; stderr: string };

    expect(failure.code).toBe(1);
    expect(failure.stderr.trim().split('\n')).toHaveLength(1);
    expect(failure.stderr).toMatch(/3011 bytes, over the 2048-byte limit \(OUTBOX_MAX_PAYLOAD_BYTES\)/);
    expect((await db.query('SELECT count(*)::int AS n FROM chores.outbox_events')).rows[0].n).toBe(0);
  });
});

describe('the payload limit at delivery', () => {
  it('fails an oversized event inserted by SQL alone, with the reason, and delivers the events behind it', async () => {
    const endpoint = await addTestEndpoint(db, receiver.url);
    await insertBlobs(2, 300 * 1024);
    const [small] = await publishEvents(db, [{ type: 'small', payload: { ok: true } }]);

    const stats = await sweepOutbox(deps);
    const rows = await deliveryRows(db);
    const { rows: events } = await db.query('SELECT id::text, status FROM chores.outbox_events ORDER BY id');
    const {
      rows: [health],
    } = await db.query('SELECT failing_since FROM chores.webhook_endpoints WHERE id = $1', [endpoint.id]);

    expect(stats).toMatchObject({ processed: 3, delivered: 1, failed: 2, retried: 0 });
    expect(receiver.received.map((r) => r.headers['webhook-id'])).toEqual([`msg_${small}`]);
    expect(rows.filter((r) => r.status === 'failed').map((r) => r.last_error)).toEqual([
      'payload is 307212 bytes, over OUTBOX_MAX_PAYLOAD_BYTES=262144; not sent (publish a smaller event, e.g. a reference to the data)',
      'payload is 307212 bytes, over OUTBOX_MAX_PAYLOAD_BYTES=262144; not sent (publish a smaller event, e.g. a reference to the data)',
    ]);
    expect(events.map((e) => e.status)).toEqual(['failed', 'failed', 'delivered']);
    expect(health.failing_since).toBeNull(); // the producer's fault, not the endpoint's
  });

  it('survives 30 events of 10 MB under a 300 MB heap and delivers the small event behind them', { timeout: 120_000 }, async () => {
    const counting = await startCountingReceiver();
    await addTestEndpoint(db, counting.url);
    await insertBlobs(30, MB10);
    await publishEvents(db, [{ type: 'small', payload: { ok: true } }]);

    const stats = await sweepUnderSmallHeap();
    const { rows } = await db.query(`SELECT status, count(*)::int AS n FROM chores.webhook_deliveries GROUP BY status ORDER BY status`);

    expect(stats).toMatchObject({ processed: 31, delivered: 1, failed: 30, remaining: 0 });
    expect(counting.seen.types).toEqual(['small']);
    expect(rows).toEqual([
      { status: 'delivered', n: 1 },
      { status: 'failed', n: 30 },
    ]);
  });

  it('bounds a run by bytes held: with the limit raised, 10 MB payloads go out at most two at a time', { timeout: 240_000 }, async () => {
    const counting = await startCountingReceiver(300);
    await addTestEndpoint(db, counting.url);
    await insertBlobs(10, MB10);
    await publishEvents(db, [{ type: 'small', payload: { ok: true } }]);

    // A generous timeout: signing and sending 10 MB is slow on a loaded machine, and this is about memory.
    const stats = await sweepUnderSmallHeap({ OUTBOX_MAX_PAYLOAD_BYTES: String(16 * 1024 * 1024), OUTBOX_REQUEST_TIMEOUT_MS: '60000' });

    // 16 MiB held at most, plus the one that crosses it: two of 10 MB. By rows alone it would be 8.
    expect(stats).toMatchObject({ processed: 11, delivered: 11, failed: 0, remaining: 0 });
    expect(counting.seen.requests).toBe(11);
    expect(counting.seen.bytes).toBeGreaterThan(10 * MB10);
    expect(counting.seen.mostOpen).toBeLessThanOrEqual(2);
  });
});
