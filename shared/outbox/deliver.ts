import type { OutboxConfig } from '../config.js';
import type { Db } from '../db/pool.js';
import type { SchemaName } from '../db/identifiers.js';
import type { TimeBudget } from '../runtime/budget.js';
import { decide } from './decide.js';
import { disableEndpoints } from './endpoints.js';
import type { SendOutcome, WebhookSender } from './http.js';
import { GLOBAL_CONCURRENCY, oversizedPayloadError, PAYLOAD_BYTES_IN_MEMORY, pauseOf, PER_ENDPOINT_CONCURRENCY } from './limits.js';
import {
  claimDue,
  completeEvents,
  endpointsFailingTooLong,
  markEndpointHealth,
  pauseEndpoints,
  recordResults,
  releaseClaims,
  type ClaimedDelivery,
} from './sql.js';

// Outcomes are recorded in batches: one UPDATE for up to this many attempts.
const RECORD_BATCH = 100;
// A request never starts with less than this left in the budget; it is released for the next run.
const MIN_REQUEST_MS = 1_000;

export interface DeliveryDeps {
  db: Db;
  schema: SchemaName;
  outbox: OutboxConfig;
  sender: WebhookSender;
  budget: TimeBudget;
}

export interface DeliveryStats {
  processed: number;
  delivered: number;
  retried: number;
  failed: number;
  endpointsDisabled: number;
}

/**
 * Delivers due deliveries (only those of `eventIds`, when given) until none is due or the budget
 * ends. Each delivery is claimed under a lease, POSTed with no database lock held, and its outcome
 * recorded only if the lease is still ours, so concurrent runs never send the same attempt twice.
 *
 * @example const stats = await deliverDue(deps) // → { processed: 120, delivered: 118, retried: 2, … }
 */
export async function deliverDue(deps: DeliveryDeps, eventIds?: string[]): Promise<DeliveryStats> {
  return new DeliveryRun(deps, eventIds).run();
}

interface Attempt {
  claimed: ClaimedDelivery;
  outcome: SendOutcome;
}

class DeliveryRun {
  private readonly waiting = new Map<string, ClaimedDelivery[]>();
  private readonly active = new Map<string, number>();
  private readonly disabled = new Set<string>();
  // Endpoints a 429/503 with Retry-After paused: nothing more is sent to them by this run, and
  // their claimed deliveries are parked until the run ends and gives them back.
  private readonly paused = new Set<string>();
  private readonly parked: ClaimedDelivery[] = [];
  // Payload bytes claimed and not yet finished (waiting or in flight): bounded by PAYLOAD_BYTES_IN_MEMORY.
  private heldBytes = 0;
  private readonly finished: Attempt[] = [];
  // Outcome batches are recorded one after another, but off the claim loop's critical path: a
  // run that waited for each record before claiming again kept one Postgres backend at 80% CPU
  // while the other core idled (measured with the outbox bench).
  private recording: Promise<void> = Promise.resolve();
  private recordError: unknown;
  private wake: () => void = () => {};
  private readonly stats: DeliveryStats = { processed: 0, delivered: 0, retried: 0, failed: 0, endpointsDisabled: 0 };
  // Long enough for a delivery to wait behind its endpoint's other queued deliveries and still
  // run to its timeout; a crashed run's deliveries are retried once it lapses.
  private readonly leaseMs: number;

  constructor(
    private readonly deps: DeliveryDeps,
    private readonly eventIds?: string[],
  ) {
    this.leaseMs = deps.outbox.requestTimeoutMs * (Math.ceil(GLOBAL_CONCURRENCY / PER_ENDPOINT_CONCURRENCY) + 1) + 30_000;
  }

  async run(): Promise<DeliveryStats> {
    let nothingMoreDue = false;
    for (;;) {
      const room = GLOBAL_CONCURRENCY * 2 - this.inFlight() - this.waitingCount();
      // Once outcomes cannot be recorded, claim nothing more: the leases of what was sent lapse and
      // those deliveries are retried (at least once, never lost).
      if (this.recordError !== undefined) nothingMoreDue = true;
      const byteBudget = PAYLOAD_BYTES_IN_MEMORY - this.heldBytes;
      if (!nothingMoreDue && !this.deps.budget.expired() && room >= GLOBAL_CONCURRENCY && byteBudget > 0) {
        const saturated = this.saturatedEndpoints();
        const claimed = await this.claim(room, [...saturated, ...this.paused], byteBudget);
        // Fewer rows than asked means nothing else is due, unless some endpoints were left out or
        // the byte budget cut the claim short.
        const claimedBytes = claimed.reduce((sum, d) => sum + (d.payload === null ? 0 : d.payload_bytes), 0);
        if (claimed.length < room && saturated.length === 0 && claimedBytes < byteBudget) nothingMoreDue = true;
        for (const delivery of claimed) this.enqueue(delivery);
        this.pump();
      }
      if (this.finished.length >= RECORD_BATCH) this.recordInBackground();
      if (this.inFlight() === 0) {
        if (this.waitingCount() === 0 && (nothingMoreDue || this.deps.budget.expired())) break;
        if (this.waitingCount() > 0 && this.deps.budget.remainingMs() < MIN_REQUEST_MS) break;
        continue;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    await this.releaseWaiting();
    this.recordInBackground();
    await this.recording;
    if (this.recordError !== undefined) throw this.recordError;
    return this.stats;
  }

  private recordInBackground(): void {
    const batch = this.finished.splice(0);
    // The first error is kept and rethrown when the run ends; later batches are not attempted.
    this.recording = this.recording
      .then(() => (this.recordError === undefined ? this.record(batch) : undefined))
      .catch((error: unknown) => {
        this.recordError ??= error;
      });
  }

  private claim(limit: number, excludeEndpoints: string[], byteBudget: number): Promise<ClaimedDelivery[]> {
    const query = claimDue(this.deps.schema, {
      limit,
      leaseMs: this.leaseMs,
      excludeEndpoints,
      byteBudget,
      maxPayloadBytes: this.deps.outbox.maxPayloadBytes,
      ...(this.eventIds && { eventIds: this.eventIds }),
    });
    return this.deps.db.query<ClaimedDelivery>(query).then((result) => result.rows);
  }

  /** POSTs under way: the per-endpoint counts summed (a handful of endpoints, cheap). */
  private inFlight(): number {
    let count = 0;
    for (const active of this.active.values()) count += active;
    return count;
  }

  /** Claimed deliveries not yet started. */
  private waitingCount(): number {
    let count = 0;
    for (const queue of this.waiting.values()) count += queue.length;
    return count;
  }

  private enqueue(delivery: ClaimedDelivery): void {
    if (delivery.payload === null) {
      // Over the limit (inserted around publish): failed alone, its text never loaded.
      const error = oversizedPayloadError(delivery.payload_bytes, this.deps.outbox.maxPayloadBytes);
      this.finished.push({ claimed: delivery, outcome: { kind: 'undeliverable', error } });
      return;
    }
    this.heldBytes += delivery.payload_bytes;
    const queue = this.waiting.get(delivery.endpoint_id) ?? [];
    queue.push(delivery);
    this.waiting.set(delivery.endpoint_id, queue);
  }

  private saturatedEndpoints(): string[] {
    return [...new Set([...this.waiting.keys(), ...this.active.keys()])].filter(
      (id) => (this.active.get(id) ?? 0) + (this.waiting.get(id)?.length ?? 0) >= PER_ENDPOINT_CONCURRENCY,
    );
  }

  /** Starts every waiting delivery whose endpoint and the run both have a free slot. */
  private pump(): void {
    for (const [endpointId, queue] of this.waiting) {
      while (queue.length > 0 && this.inFlight() < GLOBAL_CONCURRENCY && (this.active.get(endpointId) ?? 0) < PER_ENDPOINT_CONCURRENCY) {
        const remaining = this.deps.budget.remainingMs();
        if (remaining < MIN_REQUEST_MS) return;
        const delivery = queue.shift()!;
        if (this.disabled.has(endpointId)) {
          this.heldBytes -= delivery.payload_bytes;
          continue; // its delivery was failed when it was disabled
        }
        this.start(delivery, Math.min(this.deps.outbox.requestTimeoutMs, remaining));
      }
      if (queue.length === 0) this.waiting.delete(endpointId);
    }
  }

  private start(claimed: ClaimedDelivery, timeoutMs: number): void {
    this.active.set(claimed.endpoint_id, (this.active.get(claimed.endpoint_id) ?? 0) + 1);
    const webhook = toWebhook(claimed);
    // The finished attempt waits for its batch to be recorded; it must not keep its payload alive.
    claimed.payload = null;
    void this.deps.sender.send(webhook, timeoutMs).then((outcome) => {
      const left = (this.active.get(claimed.endpoint_id) ?? 1) - 1;
      if (left === 0) this.active.delete(claimed.endpoint_id);
      else this.active.set(claimed.endpoint_id, left);
      this.heldBytes -= claimed.payload_bytes;
      this.finished.push({ claimed, outcome });
      if (pauseOf(outcome) !== undefined) this.pause(claimed.endpoint_id);
      this.pump();
      this.wake();
    });
  }

  /**
   * Stops sending to a throttled endpoint at once: its waiting deliveries are parked (given back
   * when the run ends), and the pause is recorded now so that concurrent runs see it too.
   */
  private pause(endpointId: string): void {
    if (this.paused.has(endpointId)) return;
    this.paused.add(endpointId);
    const queue = this.waiting.get(endpointId) ?? [];
    this.waiting.delete(endpointId);
    for (const delivery of queue) {
      this.heldBytes -= delivery.payload_bytes;
      delivery.payload = null; // given back unsent: only its id and attempt are needed
    }
    this.parked.push(...queue);
    this.recordInBackground();
  }

  /** Records finished attempts, updates endpoint health, disables endpoints, completes events. */
  private async record(batch: Attempt[]): Promise<void> {
    if (batch.length === 0) return;
    const { db, schema, outbox } = this.deps;
    const results = batch.map(({ claimed, outcome }) => decide(claimed, outcome, outbox.retrySchedule));
    const { rows } = await db.query<{ event_id: string; status: string }>(recordResults(schema, results));
    this.stats.processed += batch.length;
    for (const row of rows) {
      if (row.status === 'delivered') this.stats.delivered += 1;
      else if (row.status === 'pending') this.stats.retried += 1;
      else this.stats.failed += 1;
    }

    const succeeded = unique(batch.filter((a) => a.outcome.kind === 'delivered').map((a) => a.claimed.endpoint_id));
    // An oversized payload is the producer's fault, not the endpoint's.
    const endpointFailed = (a: Attempt) => a.outcome.kind !== 'delivered' && a.outcome.kind !== 'undeliverable';
    const failing = unique(batch.filter(endpointFailed).map((a) => a.claimed.endpoint_id));
    await db.query(markEndpointHealth(schema, succeeded, failing));
    const pauses = new Map<string, number>();
    for (const { claimed, outcome } of batch) {
      const ms = pauseOf(outcome);
      if (ms !== undefined) pauses.set(claimed.endpoint_id, Math.max(ms, pauses.get(claimed.endpoint_id) ?? 0));
    }
    if (pauses.size > 0) await db.query(pauseEndpoints(schema, [...pauses].map(([id, ms]) => ({ id, ms }))));
    const gone = unique(batch.filter((a) => a.outcome.kind === 'gone').map((a) => a.claimed.endpoint_id));
    const suspects = failing.filter((id) => !gone.includes(id));
    const { rows: tooLong } = suspects.length
      ? await db.query<{ id: string; failing_since: Date }>(endpointsFailingTooLong(schema, suspects, outbox.disableAfterHours))
      : { rows: [] };
    const toDisable = [
      ...gone.map((id) => ({ id, reason: 'the endpoint answered 410 Gone' })),
      ...tooLong.map((e) => ({ id: e.id, reason: `only failures since ${e.failing_since.toISOString()} (over ${outbox.disableAfterHours} h)` })),
    ];
    const { disabled, eventIds } = await disableEndpoints(db, schema, toDisable);
    for (const id of disabled) this.disabled.add(id);
    this.stats.endpointsDisabled += disabled.length;
    await db.query(completeEvents(schema, unique([...rows.map((r) => r.event_id), ...eventIds])));
  }

  /** Deliveries claimed but never started go back at once rather than waiting out their lease. */
  private async releaseWaiting(): Promise<void> {
    const unstarted = [...this.waiting.values()].flat().concat(this.parked.splice(0));
    this.waiting.clear();
    if (unstarted.length > 0) {
      await this.deps.db.query(releaseClaims(this.deps.schema, unstarted.map((d) => ({ id: d.id, attempt: d.attempts }))));
    }
  }
}

/** Standard Webhooks body: `{"type", "timestamp", "data"}`; `webhook-id` is stable per event. */
function toWebhook(claimed: ClaimedDelivery) {
  return {
    url: claimed.url,
    webhookId: `msg_${claimed.event_id}`,
    timestamp: new Date(),
    body: `{"type":${JSON.stringify(claimed.event_type)},"timestamp":${JSON.stringify(claimed.created_at.toISOString())},"data":${claimed.payload}}`,
    secrets: claimed.previous_secret ? [claimed.secret, claimed.previous_secret] : [claimed.secret],
  };
}

function unique(ids: string[]): string[] {
  return [...new Set(ids)];
}
