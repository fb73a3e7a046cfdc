import type { Db } from '../db/pool.js';
import type { SchemaName } from '../db/identifiers.js';
import { deliverDue, type DeliveryDeps, type DeliveryStats } from './deliver.js';
import { EndpointDisabledError, EndpointNotFoundError, OutboxError } from './errors.js';
import { replayDeliveries, selectEndpoint, selectReplayable, type ReplayFilter } from './history-sql.js';

export type { ReplayFilter } from './history-sql.js';

export interface ReplayOutcome {
  /** Deliveries put back in line (with `dryRun`, that would be). */
  replayed: number;
  dryRun: boolean;
  endpointId: string;
  /** Their events, each POSTed again with its original `webhook-id`. */
  eventIds: string[];
}

/**
 * Puts an endpoint's failed (or, with `status: 'all'`, also delivered) deliveries back in line:
 * due now, a fresh retry cycle, their attempt history kept. Receivers get each again with its
 * original `webhook-id`. With the default status a second replay finds nothing once they are
 * delivered. A disabled endpoint is refused: enable it first.
 *
 * @example await replay(db, schema, { endpointId: '3', since: new Date('2026-11-21T08:00Z'), status: 'failed' }) // → { replayed: 42, … }
 */
export async function replay(db: Db, schema: SchemaName, filter: ReplayFilter, options: { dryRun?: boolean } = {}): Promise<ReplayOutcome> {
  // Swapped bounds (`--since 1d --until 7d`) select nothing: say so instead of "replayed 0".
  if (filter.since && filter.until && filter.since >= filter.until)
    throw new OutboxError(
      `the replay window is empty: since ${filter.since.toISOString()} is not before until ${filter.until.toISOString()}`,
    );
  const {
    rows: [endpoint],
  } = await db.query<{ is_active: boolean; disabled_reason: string | null }>(selectEndpoint(schema, filter.endpointId));
  if (!endpoint) throw new EndpointNotFoundError(filter.endpointId);
  if (!endpoint.is_active) throw new EndpointDisabledError(filter.endpointId, endpoint.disabled_reason);
  const query = options.dryRun ? selectReplayable(schema, filter) : replayDeliveries(schema, filter);
  const { rows } = await db.query<{ event_id: string }>(query);
  return {
    replayed: rows.length,
    dryRun: options.dryRun === true,
    endpointId: filter.endpointId,
    eventIds: [...new Set(rows.map((r) => r.event_id))],
  };
}

/**
 * Replays, then delivers what was replayed in this same run (attempts recorded with trigger
 * `replay`): the outbox-deliver manual payload `{"replay": {…}}` and the local CLI.
 */
export async function replayAndDeliver(
  deps: DeliveryDeps,
  filter: ReplayFilter,
  options: { dryRun?: boolean } = {},
): Promise<ReplayOutcome & { delivery?: DeliveryStats }> {
  const outcome = await replay(deps.db, deps.schema, filter, options);
  if (outcome.dryRun || outcome.eventIds.length === 0) return outcome;
  return { ...outcome, delivery: await deliverDue(deps, outcome.eventIds, 'replay') };
}
