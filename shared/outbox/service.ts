import { deliverDue, emptyDeliveryStats, type DeliveryDeps, type DeliveryFeed, type DeliveryStats } from './deliver.js';
import { queryWithinBudget } from './lock-wait.js';
import { replayAndDeliver, type ReplayFilter } from './replay.js';
import { stepFailed } from './errors.js';
import { analyzeOutbox, countBacklog, fanOut, type AttemptTrigger } from './sql.js';

// Events fanned out per statement: one short transaction inserting a few thousand delivery rows.
const FAN_OUT_BATCH = 500;
// A sweep that has fanned out at least this many events or deliveries refreshes both tables'
// statistics, once. Until autovacuum gets to them (after 10% of a table changed, so not at all for
// a burst into a big table), the planner believes few rows are pending or due, and reads and sorts
// every one of them instead of taking the first few from the index: each fan-out then costs the
// whole pending backlog (6 of 36 ms per 500 events at 10,000 pending, growing with the backlog),
// and each claim the whole due backlog (8 ms per claim at 10,000 due; the outbox bench's claims
// took half the time after an ANALYZE of ~20 ms). Below this, a stale plan costs less than the analyze.
const ANALYZE_AFTER_ROWS = 2_000;

export interface OutboxDeliverStats extends DeliveryStats {
  fannedOut: number;
  remaining: number;
  truncated: boolean;
}

/**
 * The sweep (scheduled or manual run): fans out every pending event and delivers every due delivery
 * (including those whose lease lapsed after a crash), until the budget ends. The fan-out runs
 * alongside the deliveries, each batch delivered while the next is created: run one after the
 * other, the fan-out of 10,000 events kept the POSTs waiting for a sixth of the sweep.
 *
 * @example const stats = await sweepOutbox(deps) // → { fannedOut: 12, processed: 30, delivered: 29, retried: 1, … }
 */
export async function sweepOutbox(deps: DeliveryDeps): Promise<OutboxDeliverStats> {
  let fannedOut = 0;
  let created = 0;
  const fanOutPending: DeliveryFeed = {
    run: async (landed) => {
      let analyzed = false;
      for (;;) {
        const { rows } = await queryWithinBudget<{ deliveries: number }>(deps, fanOut(deps.schema, FAN_OUT_BATCH), 'the fan-out');
        fannedOut += rows.length;
        for (const row of rows) created += row.deliveries;
        landed();
        if (!analyzed && Math.max(fannedOut, created) >= ANALYZE_AFTER_ROWS) {
          await deps.db.query(analyzeOutbox(deps.schema));
          analyzed = true;
        }
        if (rows.length < FAN_OUT_BATCH || deps.budget.expired()) break;
      }
    },
  };
  const delivery = await deliverDue(deps, undefined, 'sweep', fanOutPending);
  return finish(deps, fannedOut, delivery);
}

/**
 * The fast path (an SQS record, or the in-process dispatcher): fans out and delivers exactly the
 * listed events, now. Deliveries a concurrent sweep holds are left to it.
 */
export async function deliverEvents(
  deps: DeliveryDeps,
  eventIds: string[],
  trigger: AttemptTrigger = 'fast-path',
): Promise<OutboxDeliverStats> {
  const { rows } = await queryWithinBudget(deps, fanOut(deps.schema, eventIds.length, eventIds), 'the fan-out').catch((error: unknown) => {
    throw stepFailed('fanning out events', error, 'nothing was sent; the events stay pending for a retry or the next sweep');
  });
  const delivery = await deliverDue(deps, eventIds, trigger);
  return finish(deps, rows.length, delivery);
}

/**
 * A replay run (outbox-deliver's manual payload `{"replay": {…}}`): puts the matching deliveries
 * back in line and delivers them now, recording the attempts with trigger `replay`.
 *
 * @example await replayOutbox(deps, { endpointId: '3', since: new Date('2026-11-21T08:00Z'), status: 'failed' })
 */
export async function replayOutbox(
  deps: DeliveryDeps,
  filter: ReplayFilter & { dryRun?: boolean },
): Promise<OutboxDeliverStats & { replayed: number; dryRun: boolean }> {
  const { dryRun, ...rest } = filter;
  const outcome = await replayAndDeliver(deps, rest, { dryRun: dryRun === true });
  const stats = await finish(deps, 0, outcome.delivery ?? emptyDeliveryStats());
  return { replayed: outcome.replayed, dryRun: outcome.dryRun, ...stats };
}

async function finish(deps: DeliveryDeps, fannedOut: number, delivery: DeliveryStats): Promise<OutboxDeliverStats> {
  const { rows } = await deps.db.query<{ n: string }>(countBacklog(deps.schema));
  const remaining = Number(rows[0]!.n);
  return { ...delivery, fannedOut, remaining, truncated: deps.budget.expired() && remaining > 0 };
}
