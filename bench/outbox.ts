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
import { PLAIN_CONNECTIONS, plainClientRate } from './plain-client.js';

const BACKLOG = 10_000;
const FAST_PATH_EVENTS = 500;
// Sweeps at 64 per endpoint, each between two plain-client runs; the verdict takes their median, so
// a stall of this shared host during any one run (the plain client alone has swung 2,200–10,400
// requests/s between runs) does not decide it.
const WIDE_ROUNDS = 3;

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
  const config = loadConfig(benchEnv(bench.url));
  const sender = new WebhookSender(config.outbox);
  const deps: DeliveryDeps = { db: bench.db, schema, outbox: config.outbox, sender, budget: UNLIMITED_BUDGET };
  try {
    const hook = `http://127.0.0.1:${port}/hook`;
    const secret = `whsec_${Buffer.from('bench-secret-bench-secret').toString('base64')}`;
    await bench.db.query(`INSERT INTO chores.webhook_endpoints (url, secret) VALUES ($1, $2)`, [hook, secret]);
    console.log(`\noutbox-deliver: one endpoint on a loopback receiver`);

    // The plain client runs just before and just after each sweep, so each ratio compares the two
    // under the same load on this shared machine. One sweep at the default 8 POSTs per endpoint, then
    // WIDE_ROUNDS at 64 (OUTBOX_ENDPOINT_CONCURRENCY), the plain client's own number of connections.
    const wide = loadConfig({ ...benchEnv(bench.url), OUTBOX_ENDPOINT_CONCURRENCY: String(PLAIN_CONNECTIONS) });
    const wideSender = new WebhookSender(wide.outbox);
    const plainRates = [await plainClientRate(hook, secret, BACKLOG)];
    const paired = async (sweepDeps: DeliveryDeps) => {
      const run = await sweepOnce(bench, sweepDeps, receiver);
      plainRates.push(await plainClientRate(hook, secret, BACKLOG));
      const [before, after] = plainRates.slice(-2) as [number, number];
      return { ...run, ratio: run.rate / ((before + after) / 2) };
    };
    const narrow = await paired(deps);
    const widened = [];
    for (let round = 0; round < WIDE_ROUNDS; round++) widened.push(await paired({ ...deps, outbox: wide.outbox, sender: wideSender }));
    await wideSender.close();
    const wideRatio = percentile(
      widened.map((run) => run.ratio).sort((a, b) => a - b),
      50,
    );
    const sweeps = [narrow, ...widened];
    const recorded = sweeps.every((run) => run.attempts === run.report.total);

    await ask(receiver, 'reset');
    const latencies = await fastPathLatencies(bench, deps, receiver);

    await ask(receiver, 'reset');
    await seedBacklog(bench);
    const started = performance.now();
    const four = await Promise.all([1, 2, 3, 4].map(() => sweepOutbox(deps)));
    const fourRate = four.reduce((sum, s) => sum + s.delivered, 0) / ((performance.now() - started) / 1000);
    const concurrent = await ask(receiver, 'report');

    console.log(
      `  plain undici client, ${PLAIN_CONNECTIONS} connections, signed, no database .. ${plainRates.map((r) => fmt(r)).join(' / ')} requests/s`,
    );
    const labels = ['8 per endpoint', ...widened.map((_run, i) => `64 per endpoint, round ${i + 1}`)];
    for (const [i, run] of sweeps.entries()) {
      console.log(
        `  one sweep, ${fmt(BACKLOG)} events, ${labels[i]} .. ${fmt(run.rate)} deliveries/s = ${fmt(run.ratio, 2)}x the plain client ` +
          `(${fmt(run.report.total)} POSTs, ${fmt(run.report.total - run.report.unique)} duplicates, ${fmt(run.attempts)} attempts recorded)`,
      );
    }
    console.log(
      `  fast path, commit → receipt (${FAST_PATH_EVENTS}) .. p50 ${fmt(percentile(latencies, 50), 2)} ms, p99 ${fmt(percentile(latencies, 99), 2)} ms`,
    );
    console.log(
      `  four concurrent sweepers, ${fmt(BACKLOG)} ... ${fmt(fourRate)} deliveries/s, ${fmt(concurrent.total)} POSTs, duplicates: ${concurrent.total - concurrent.unique}`,
    );
    console.log('  targets:');
    console.log(
      `    sweep >= 0.5x plain client ... ${verdict(wideRatio >= 0.5)} (${fmt(wideRatio, 2)}x at 64 per endpoint, the median of ` +
        `${widened.map((run) => fmt(run.ratio, 2)).join(', ')}; ${fmt(narrow.ratio, 2)}x at the default 8)`,
    );
    console.log(`    every attempt recorded ....... ${verdict(recorded)}`);
    console.log(`    fast-path p50 under 25 ms .... ${verdict(percentile(latencies, 50) < 25)} (${fmt(percentile(latencies, 50), 2)} ms)`);
    const duplicates = [concurrent, ...sweeps.map((run) => run.report)].reduce((sum, r) => sum + r.total - r.unique, 0);
    console.log(`    0 duplicate POSTs ............ ${verdict(duplicates === 0)} (${duplicates})`);
  } finally {
    await sender.close();
    receiver.send('stop');
    await bench.close();
  }
}

function benchEnv(url: string): Record<string, string> {
  return { DATABASE_URL: url, OUTBOX_ALLOW_HTTP: 'true', OUTBOX_ALLOWED_CIDRS: '127.0.0.1/32' };
}

/** One sweep over a fresh backlog: its rate, what the receiver saw, and the attempts recorded. */
async function sweepOnce(bench: BenchDatabase, deps: DeliveryDeps, receiver: ChildProcess) {
  await seedBacklog(bench);
  await ask(receiver, 'reset');
  const started = performance.now();
  const stats = await sweepOutbox(deps);
  const rate = stats.delivered / ((performance.now() - started) / 1000);
  return { rate, report: await ask(receiver, 'report'), attempts: await countAttempts(bench) };
}

async function countAttempts(bench: BenchDatabase): Promise<number> {
  const { rows } = await bench.db.query<{ n: string }>('SELECT count(*) AS n FROM chores.webhook_attempts');
  return Number(rows[0]!.n);
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
