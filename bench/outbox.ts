import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../shared/config.js';
import type { DeliveryDeps } from '../shared/outbox/deliver.js';
import { InProcessDispatcher } from '../shared/outbox/dispatch.js';
import { WebhookSender } from '../shared/outbox/http.js';
import { publishInTransaction } from '../shared/outbox/publish.js';
import { deliverEvents, sweepOutbox } from '../shared/outbox/service.js';
import { UNLIMITED_BUDGET } from '../shared/runtime/budget.js';
import { benchDatabase, fmt, percentile, schema, verdict, type BenchDatabase } from './database.js';

const BACKLOG = 10_000;
const FAST_PATH_EVENTS = 500;

interface Report {
  total: number;
  unique: number;
  arrivals: Record<string, number>;
}

/**
 * 10,000 events to one endpoint on a loopback receiver (its own process): deliveries per second
 * for one sweep; commit-to-receipt latency on the in-process fast path; and four concurrent
 * sweepers over one backlog, counting duplicate POSTs.
 */
export async function benchOutbox(): Promise<void> {
  const bench = await benchDatabase('chores_bench_outbox');
  const receiver = fork(fileURLToPath(new URL('./receiver.mjs', import.meta.url)));
  const [{ port }] = (await once(receiver, 'message')) as [{ port: number }];
  const config = loadConfig({ DATABASE_URL: bench.url, OUTBOX_ALLOW_HTTP: 'true', OUTBOX_ALLOWED_CIDRS: '127.0.0.1/32' });
  const sender = new WebhookSender(config.outbox);
  const deps: DeliveryDeps = { db: bench.db, schema, outbox: config.outbox, sender, budget: UNLIMITED_BUDGET };
  try {
    await bench.db.query(`INSERT INTO chores.webhook_endpoints (url, secret) VALUES ($1, $2)`, [
      `http://127.0.0.1:${port}/hook`,
      `whsec_${Buffer.from('bench-secret-bench-secret').toString('base64')}`,
    ]);
    console.log(`\noutbox-deliver: one endpoint on a loopback receiver`);

    await seedBacklog(bench);
    let started = performance.now();
    const one = await sweepOutbox(deps);
    const rate = one.delivered / ((performance.now() - started) / 1000);
    const single = await ask(receiver, 'report');

    await ask(receiver, 'reset');
    const latencies = await fastPathLatencies(bench, deps, receiver);

    await ask(receiver, 'reset');
    await seedBacklog(bench);
    started = performance.now();
    const four = await Promise.all([1, 2, 3, 4].map(() => sweepOutbox(deps)));
    const fourRate = four.reduce((sum, s) => sum + s.delivered, 0) / ((performance.now() - started) / 1000);
    const concurrent = await ask(receiver, 'report');

    console.log(`  one sweep, ${fmt(BACKLOG)} events .......... ${fmt(rate)} deliveries/s (${fmt(one.delivered)} delivered, ${fmt(single.total - single.unique)} duplicates)`);
    console.log(`  fast path, commit → receipt (${FAST_PATH_EVENTS}) .. p50 ${fmt(percentile(latencies, 50), 2)} ms, p99 ${fmt(percentile(latencies, 99), 2)} ms`);
    console.log(`  four concurrent sweepers, ${fmt(BACKLOG)} ... ${fmt(fourRate)} deliveries/s, ${fmt(concurrent.total)} POSTs, duplicates: ${concurrent.total - concurrent.unique}`);
    console.log('  targets:');
    console.log(`    >= 2,000 deliveries/s ........ ${verdict(rate >= 2_000)} (${fmt(rate)})`);
    console.log(`    fast-path p50 under 25 ms .... ${verdict(percentile(latencies, 50) < 25)} (${fmt(percentile(latencies, 50), 2)} ms)`);
    console.log(`    0 duplicate POSTs ............ ${verdict(concurrent.total === concurrent.unique && single.total === single.unique)} (${concurrent.total - concurrent.unique})`);
  } finally {
    await sender.close();
    receiver.send('stop');
    await bench.close();
  }
}

async function seedBacklog(bench: BenchDatabase): Promise<void> {
  await bench.db.query('TRUNCATE chores.outbox_events CASCADE');
  await bench.db.query(
    `INSERT INTO chores.outbox_events (event_type, payload)
     SELECT 'order.paid', jsonb_build_object('orderId', i, 'total', '12.50') FROM generate_series(1, $1::int) AS i`,
    [BACKLOG],
  );
}

/** Publishes events one at a time; each one's latency runs from its commit to its receipt. */
async function fastPathLatencies(bench: BenchDatabase, deps: DeliveryDeps, receiver: ChildProcess): Promise<number[]> {
  const committedAt = new Map<string, number>();
  const dispatcher = new InProcessDispatcher(async (ids) => {
    for (const id of ids) committedAt.set(`msg_${id}`, performance.timeOrigin + performance.now());
    await deliverEvents(deps, ids);
  });
  for (let i = 0; i < FAST_PATH_EVENTS; i++) {
    await publishInTransaction(bench.db, schema, dispatcher, (_tx, publish) => publish({ type: 'order.paid', payload: { i } }));
  }
  const { arrivals } = await ask(receiver, 'report');
  return [...committedAt].map(([id, at]) => arrivals[id]! - at).sort((a, b) => a - b);
}

async function ask(receiver: ChildProcess, message: 'report' | 'reset'): Promise<Report> {
  receiver.send(message);
  const [reply] = (await once(receiver, 'message')) as [Report];
  return reply;
}
