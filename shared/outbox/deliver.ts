import type { OutboxConfig } from './config.js';
import type { Db } from '../db/pool.js';
import type { SchemaName } from '../db/identifiers.js';
import type { TimeBudget } from '../runtime/budget.js';
import { decide } from './decide.js';
import { disableEndpoints } from './endpoints.js';
import { type OutboxError, stepFailed } from './errors.js';
import type { SendOutcome, WebhookSender } from './http.js';
import type { FailedAttempt } from './log-messages.js';
import { lockWaitSetting, namingLockWait, queryWithinBudget } from './lock-wait.js';
import { GLOBAL_CONCURRENCY, oversizedPayloadError, PAYLOAD_BYTES_IN_MEMORY, pauseOf } from './limits.js';
import {
  claimDue,
  completeEvents,
  endpointsFailingTooLong,
  inactiveEndpoints,
  pauseEndpoints,
  recordResults,
  releaseClaims,
  type AttemptRecord,
  type AttemptTrigger,
  type ClaimedDelivery,
} from './sql.js';

export { GLOBAL_CONCURRENCY, PER_ENDPOINT_CONCURRENCY } from './limits.js';
// Claimed deliveries held per run (in flight plus waiting): enough that a claim's round trip never
// leaves a free slot idle, few enough that a crash strands little behind a lease.
const CLAIM_WINDOW = GLOBAL_CONCURRENCY * 3;
// Claim again once this many places are free. Each claim costs ~2.5 ms of Postgres CPU whatever its
// size (planning alone is 1.1–1.5 ms) on top of ~50 µs a row: claiming from 32 free places made 162
// claims per 10,000 deliveries, from 64 made 110, and the sweep's Postgres CPU fell by 7–10%.
// A full window still holds a whole claim's worth waiting while the next one runs.
const CLAIM_MIN = GLOBAL_CONCURRENCY;
// One endpoint may hold at most this many of the run's claimed deliveries before claims leave it
// out, so a backlog for one endpoint cannot crowd the others out of the window.
const ENDPOINT_WINDOW = GLOBAL_CONCURRENCY;
// After a claim that left full endpoints out came back short, the other endpoints have nothing due:
// for this long, claims leave nobody out and a busy endpoint may use the whole window. Leaving it
// out of every claim made 73–84% of claims come back empty (each walking the due index past its
// rows) while its own queue ran dry between claims.
const SHORT_CLAIM_PAUSE_MS = 1_000;
// Outcomes are recorded in batches: one statement once this many attempts are waiting (more when a
// flush is under way). Off the claim loop's path, so only the per-statement cost matters: ~3 ms of
// planning, binding and commit, paid 78 times per 10,000 at 100 and 36 times at 250. A run that
// dies before a flush has its POSTs retried after the lease: at most this many more duplicates.
const RECORD_BATCH = 250;
// A request never starts with less than this left in the budget; it is released for the next run.
const MIN_REQUEST_MS = 1_000;
// A waiting delivery is sent only while its lease outlasts its request by this much; otherwise it
// is given back unsent, so another run that claims it after the lease can never race this one.
const LEASE_SAFETY_MS = 5_000;
// How often a run holding waiting deliveries asks whether their endpoints are still active. A
// disable by hand (`chores endpoints disable`) fails an endpoint's deliveries, those this run has
// claimed included; without asking, the run POSTed every one of them it held (up to the claim
// window) after the disable. One lookup by key per endpoint held, at most this often.
const ENDPOINT_CHECK_MS = 1_000;
// What a run that stops midway (a failed claim or endpoint check) did with its deliveries.
const STOPPED_MIDWAY = 'the POSTs already sent were recorded and the deliveries claimed and not sent given back';

/**
 * Deliveries still being created while a run delivers: the sweep's fan-out. `run` creates them in
 * batches, calling `landed` after each batch commits, and settles when no more will come. The run
 * claims what each batch made due while the next is being created, instead of after all of them.
 */
export interface DeliveryFeed {
  run(landed: () => void): Promise<void>;
}

export interface DeliveryDeps {
  db: Db;
  schema: SchemaName;
  outbox: OutboxConfig;
  sender: WebhookSender;
  budget: TimeBudget;
  /** Told of each POST that did not deliver (the Lambda logs it as FAILED_ATTEMPT_MESSAGE). */
  onFailedAttempt?: (failure: FailedAttempt) => void;
}

/**
 * `processed` counts POSTs made (each has a row in webhook_attempts) and always equals
 * `delivered + retried + failed + superseded`. `cancelled` counts deliveries failed without a POST
 * because their endpoint was disabled during the run.
 */
export interface DeliveryStats {
  processed: number;
  delivered: number;
  retried: number;
  failed: number;
  /** POSTs whose outcome could not be applied: the lease had lapsed or the endpoint was disabled meanwhile. */
  superseded: number;
  cancelled: number;
  endpointsDisabled: number;
}

export function emptyDeliveryStats(): DeliveryStats {
  return { processed: 0, delivered: 0, retried: 0, failed: 0, superseded: 0, cancelled: 0, endpointsDisabled: 0 };
}

/**
 * Delivers due deliveries (only those of `eventIds`, when given) until none is due or the budget
 * ends. Each delivery is claimed under a lease, POSTed with no database lock held, and its outcome
 * recorded only if the lease is still ours, so concurrent runs never send the same attempt twice.
 * Every POST is recorded in `webhook_attempts` under `trigger`.
 *
 * @example const stats = await deliverDue(deps) // → { processed: 120, delivered: 118, retried: 2, … }
 */
export async function deliverDue(
  deps: DeliveryDeps,
  eventIds?: string[],
  trigger: AttemptTrigger = eventIds ? 'fast-path' : 'sweep',
  feed?: DeliveryFeed,
): Promise<DeliveryStats> {
  return new DeliveryRun(deps, trigger, eventIds).run(feed);
}

class DeliveryRun {
  private readonly waiting = new Map<string, ClaimedDelivery[]>();
  private readonly active = new Map<string, number>();
  /** Deliveries POSTed whose outcome is not recorded yet (in flight, or finished and batched). */
  private readonly unrecorded = new Set<string>();
  /** Endpoints not to POST to again: disabled, or being disabled (410, failing too long). */
  private readonly disabled = new Set<string>();
  private readonly finished: AttemptRecord[] = [];
  private readonly finishedOutcomes: { endpointId: string; outcome: SendOutcome }[] = [];
  /** When this run's lease on each claimed delivery ends (local clock). */
  private readonly leaseEnds = new WeakMap<ClaimedDelivery, number>();
  /** Claimed but given back unsent (lease too short to start, or endpoint paused), released at the end. */
  private readonly unsent: ClaimedDelivery[] = [];
  // Endpoints a 429/503 with Retry-After paused: nothing more is sent to them by this run.
  private readonly paused = new Set<string>();
  // Payload bytes claimed and not yet finished (waiting or in flight): bounded by PAYLOAD_BYTES_IN_MEMORY.
  private heldBytes = 0;
  // Outcome batches are recorded one after another, but off the claim loop's critical path: a
  // run that waited for each record before claiming again kept one Postgres backend at 80% CPU
  // while the other core idled (measured with the outbox bench).
  private recording: Promise<void> = Promise.resolve();
  /** A flush is queued behind the one under way and has not taken its outcomes yet. */
  private flushWaiting = false;
  private recordError: OutboxError | undefined;
  // A claim (or endpoint check) that failed, its connection lost, say: the run claims and starts
  // nothing more, records what it sent, gives back what waited, and then fails with this.
  private claimError: OutboxError | undefined;
  /** A claim or a flush failed: no POST starts any more, since its outcome could not be recorded. */
  private get failed(): boolean {
    return this.recordError !== undefined || this.claimError !== undefined;
  }
  private checking: Promise<void> = Promise.resolve();
  private checkingEndpoints = false;
  private lastEndpointCheck = performance.now();
  private wake: () => void = () => {};
  private lastShortClaimAt = Number.NEGATIVE_INFINITY;
  // The feed (see DeliveryFeed): while it is open, a short claim means "nothing due yet", and the
  // run waits for its next batch rather than ending or claiming again and again.
  private feedOpen = false;
  private feedBatches = 0;
  private awaitingFeed = false;
  private feedError: unknown;
  private readonly stats = emptyDeliveryStats();
  // Long enough for a delivery to wait behind its endpoint's other queued deliveries and still
  // run to its timeout; one that would not is given back unsent (see LEASE_SAFETY_MS).
  private readonly leaseMs: number;
  private readonly endpointLimit: number;

  constructor(
    private readonly deps: DeliveryDeps,
    private readonly trigger: AttemptTrigger,
    private readonly eventIds?: string[],
  ) {
    this.endpointLimit = Math.min(deps.outbox.endpointConcurrency, GLOBAL_CONCURRENCY);
    this.leaseMs = deps.outbox.requestTimeoutMs * (Math.ceil(GLOBAL_CONCURRENCY / this.endpointLimit) + 1) + 30_000;
  }

  async run(feed?: DeliveryFeed): Promise<DeliveryStats> {
    const fed = feed ? this.follow(feed) : Promise.resolve();
    let nothingMoreDue = false;
    for (;;) {
      const room = CLAIM_WINDOW - this.inFlight() - this.waitingCount();
      // Once outcomes cannot be recorded, or a claim or endpoint check failed, claim nothing more: the
      // leases of what was sent and not recorded lapse and those deliveries are retried (at least
      // once, never lost). An endpoint check fails between claims, so this is where it stops them.
      if (this.failed) nothingMoreDue = true;
      const othersIdle = performance.now() - this.lastShortClaimAt < SHORT_CLAIM_PAUSE_MS;
      const full = othersIdle ? [] : this.saturatedEndpoints();
      const byteBudget = PAYLOAD_BYTES_IN_MEMORY - this.heldBytes;
      if (!nothingMoreDue && !this.awaitingFeed && !this.deps.budget.expired() && room >= CLAIM_MIN && byteBudget > 0) {
        const batchesBefore = this.feedBatches;
        // The lease runs from the claim statement's start (its now()), not from its answer: a claim
        // that waited (on a migration's table lock, say) must not make the run think its lease longer.
        const leaseEnds = Date.now() + this.leaseMs;
        const claimed = await this.claim(room, full, byteBudget);
        // Fewer rows than asked means nothing else is due, unless some endpoints were left out or
        // the byte budget cut the claim short.
        const claimedBytes = claimed.reduce((sum, d) => sum + (d.payload === null ? 0 : d.payload_bytes), 0);
        const cutByBytes = claimedBytes >= byteBudget;
        if (this.claimError !== undefined) nothingMoreDue = true;
        else if (claimed.length < room && full.length === 0 && !cutByBytes) {
          // A batch that landed during the claim may not have been visible to it: claim again.
          if (this.feedBatches === batchesBefore) {
            if (this.feedOpen) this.awaitingFeed = true;
            else nothingMoreDue = true;
          }
        } else if (claimed.length < room && !cutByBytes) this.lastShortClaimAt = performance.now();
        for (const delivery of claimed) {
          this.leaseEnds.set(delivery, leaseEnds);
          this.enqueue(delivery);
        }
        this.pump();
      }
      if (this.finished.length >= RECORD_BATCH) this.recordInBackground();
      if (this.waiting.size > 0 && performance.now() - this.lastEndpointCheck >= ENDPOINT_CHECK_MS) this.checkEndpoints();
      if (this.inFlight() === 0 && !this.awaitingFeed) {
        if (this.waitingCount() === 0 && (nothingMoreDue || this.deps.budget.expired())) break;
        if (this.waitingCount() > 0 && this.deps.budget.remainingMs() < MIN_REQUEST_MS) break;
        continue;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    // What was sent is recorded even when the give-back fails.
    const releaseError = await this.releaseWaiting().then(
      () => undefined,
      (error: unknown) => stepFailed('giving back unsent deliveries', error, 'they go again when their leases lapse'),
    );
    this.recordInBackground();
    await Promise.all([this.recording, fed, this.checking]);
    if (this.recordError !== undefined) throw this.recordError;
    if (this.claimError !== undefined) throw this.claimError;
    if (releaseError !== undefined) throw releaseError;
    // What the feed made before it failed was delivered; the rest stays pending for the next run.
    if (this.feedError !== undefined) throw this.feedError;
    return this.stats;
  }

  /** Runs the feed alongside the deliveries; each batch it lands, and its end, wake the claim loop. */
  private follow(feed: DeliveryFeed): Promise<void> {
    this.feedOpen = true;
    const landed = () => {
      this.feedBatches += 1;
      this.awaitingFeed = false;
      this.wake();
    };
    return feed
      .run(landed)
      .catch((error: unknown) => {
        this.feedError = stepFailed('fanning out events', error, 'what it made was delivered; the rest stays pending for the next run');
      })
      .finally(() => {
        this.feedOpen = false;
        landed();
      });
  }

  /**
   * Records what has finished once the flush under way (if any) is done. At most one flush waits,
   * and it takes every outcome finished by the time it starts: under load, flushes grow instead of
   * queueing one statement per RECORD_BATCH behind each other, so the database does less per POST
   * exactly when it is the bottleneck.
   */
  private recordInBackground(): void {
    if (this.flushWaiting) return;
    this.flushWaiting = true;
    // The first error is kept and rethrown when the run ends; later batches are not attempted.
    this.recording = this.recording
      .then(() => {
        this.flushWaiting = false;
        const batch = this.finished.splice(0);
        const outcomes = this.finishedOutcomes.splice(0);
        return this.recordError === undefined ? this.record(batch, outcomes) : undefined;
      })
      .catch((error: unknown) => {
        this.recordError ??= stepFailed(
          'recording webhook outcomes',
          error,
          'the deliveries sent and not recorded go again when their leases lapse',
        );
      });
  }

  /**
   * Stops POSTs to endpoints disabled since their deliveries were claimed (see ENDPOINT_CHECK_MS):
   * their waiting deliveries are given back as they come up, already failed by the disable.
   */
  private checkEndpoints(): void {
    const held = [...this.waiting.keys()].filter((id) => !this.disabled.has(id));
    if (this.checkingEndpoints || held.length === 0) return;
    this.checkingEndpoints = true;
    this.lastEndpointCheck = performance.now();
    this.checking = this.deps.db
      .query<{ id: string }>(inactiveEndpoints(this.deps.schema, held))
      .then(
        ({ rows }) => {
          for (const row of rows) this.disabled.add(row.id);
        },
        (error: unknown) => {
          this.claimError ??= stepFailed('checking endpoints', error, STOPPED_MIDWAY);
        },
      )
      .finally(() => {
        this.checkingEndpoints = false;
      });
  }

  private claim(limit: number, excludeEndpoints: string[], byteBudget: number): Promise<ClaimedDelivery[]> {
    const query = claimDue(this.deps.schema, {
      limit,
      leaseMs: this.leaseMs,
      excludeEndpoints: [...new Set([...excludeEndpoints, ...this.disabled, ...this.paused])],
      byteBudget,
      maxPayloadBytes: this.deps.outbox.maxPayloadBytes,
      ...(this.eventIds && { eventIds: this.eventIds }),
    });
    return this.deps.db.query<ClaimedDelivery>(query).then(
      (result) => result.rows,
      (error: unknown) => {
        this.claimError ??= stepFailed('claiming due deliveries', error, STOPPED_MIDWAY);
        return [];
      },
    );
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
      // Over the limit (inserted around publish): failed alone, its text never loaded, never POSTed.
      const error = oversizedPayloadError(delivery.payload_bytes, this.deps.outbox.maxPayloadBytes);
      this.finish(delivery, { kind: 'undeliverable', error }, new Date(), 0);
      return;
    }
    this.heldBytes += delivery.payload_bytes;
    const queue = this.waiting.get(delivery.endpoint_id) ?? [];
    queue.push(delivery);
    this.waiting.set(delivery.endpoint_id, queue);
  }

  /** Endpoints holding their whole share of the claim window: claims leave them out. */
  private saturatedEndpoints(): string[] {
    return [...this.waiting.keys()].filter((id) => (this.active.get(id) ?? 0) + (this.waiting.get(id)?.length ?? 0) >= ENDPOINT_WINDOW);
  }

  /** Starts every waiting delivery whose endpoint and the run both have a free slot. */
  private pump(): void {
    for (const [endpointId, queue] of this.waiting) {
      while (queue.length > 0 && this.inFlight() < GLOBAL_CONCURRENCY && (this.active.get(endpointId) ?? 0) < this.endpointLimit) {
        const remaining = this.deps.budget.remainingMs();
        if (remaining < MIN_REQUEST_MS) return;
        const delivery = queue.shift()!;
        // Failed by the disable; given back, for the next run, if the endpoint was not disabled after
        // all. After a failed claim or flush, nothing more starts: its outcome would not be recorded.
        if (this.disabled.has(endpointId) || this.failed) {
          this.giveBack(delivery);
          continue;
        }
        const timeoutMs = Math.min(this.deps.outbox.requestTimeoutMs, remaining);
        if (Date.now() + timeoutMs + LEASE_SAFETY_MS > (this.leaseEnds.get(delivery) ?? 0)) {
          this.giveBack(delivery);
          continue;
        }
        this.start(delivery, timeoutMs);
      }
      if (queue.length === 0) this.waiting.delete(endpointId);
    }
  }

  private start(claimed: ClaimedDelivery, timeoutMs: number): void {
    const endpointId = claimed.endpoint_id;
    this.active.set(endpointId, (this.active.get(endpointId) ?? 0) + 1);
    this.unrecorded.add(claimed.id);
    const webhook = toWebhook(claimed);
    // The finished attempt waits for its batch to be recorded; it must not keep its payload alive.
    claimed.payload = null;
    const startedAt = new Date();
    const started = performance.now();
    void this.deps.sender.send(webhook, timeoutMs).then((outcome) => {
      const left = (this.active.get(endpointId) ?? 1) - 1;
      if (left === 0) this.active.delete(endpointId);
      else this.active.set(endpointId, left);
      this.heldBytes -= claimed.payload_bytes;
      this.finish(claimed, outcome, startedAt, Math.round(performance.now() - started));
      if (pauseOf(outcome) !== undefined) this.pause(endpointId);
      this.pump();
      this.wake();
    });
  }

  /** Queues an attempt's outcome for recording; a 410 or an endpoint failing too long stops its POSTs now. */
  private finish(claimed: ClaimedDelivery, outcome: SendOutcome, startedAt: Date, durationMs: number): void {
    const endpointId = claimed.endpoint_id;
    const result = decide(claimed, outcome, this.deps.outbox.retrySchedule);
    // A 410, or a failure of an endpoint already failing past the limit, stops its POSTs now
    // rather than when the batch is recorded: only those already in flight still land. An
    // oversized payload is the producer's fault, not the endpoint's. A retry is still recorded as
    // one: the disable fails it when it commits, but the flush may find the endpoint recovered
    // meanwhile (a success in the same batch, or by a concurrent run) and not disable it.
    const endpointFault = outcome.kind !== 'delivered' && outcome.kind !== 'undeliverable';
    const stop = endpointFault && !this.disabled.has(endpointId) && this.mustDisable(claimed, outcome.kind);
    this.finished.push({ result, eventId: claimed.event_id, endpointId, startedAt, durationMs });
    if (outcome.kind !== 'delivered') {
      const error = 'error' in outcome ? outcome.error : `HTTP ${outcome.status}`;
      const failure = { endpointId, deliveryId: claimed.id, eventId: claimed.event_id, attempt: claimed.attempts, error };
      this.deps.onFailedAttempt?.(outcome.status === undefined ? failure : { ...failure, statusCode: outcome.status });
    }
    this.finishedOutcomes.push({ endpointId, outcome });
    if (stop) {
      this.disabled.add(endpointId);
      this.recordInBackground();
    }
  }

  /**
   * Stops sending to a throttled endpoint at once: its waiting deliveries are given back unsent
   * when the run ends, and the pause is recorded now so that concurrent runs see it too.
   */
  private pause(endpointId: string): void {
    if (this.paused.has(endpointId)) return;
    this.paused.add(endpointId);
    const queue = this.waiting.get(endpointId) ?? [];
    this.waiting.delete(endpointId);
    for (const delivery of queue) this.giveBack(delivery);
    this.recordInBackground();
  }

  /** A claimed delivery that will not be sent by this run: released at the end, its payload dropped now. */
  private giveBack(delivery: ClaimedDelivery): void {
    this.heldBytes -= delivery.payload_bytes;
    delivery.payload = null; // only its id and attempt are needed to release it
    this.unsent.push(delivery);
  }

  private mustDisable(claimed: ClaimedDelivery, kind: SendOutcome['kind']): boolean {
    if (kind === 'gone') return true;
    const since = claimed.failing_since?.getTime();
    return since !== undefined && Date.now() - since > this.deps.outbox.disableAfterHours * 3_600_000;
  }

  /** Records finished attempts, updates endpoint health, disables endpoints, completes events. */
  private async record(batch: AttemptRecord[], outcomes: { endpointId: string; outcome: SendOutcome }[]): Promise<void> {
    if (batch.length === 0) return;
    const { db, schema, outbox } = this.deps;
    const succeeded = unique(outcomes.filter((o) => o.outcome.kind === 'delivered').map((o) => o.endpointId));
    // An oversized payload is the producer's fault, not the endpoint's.
    const failing = unique(outcomes.filter((o) => !['delivered', 'undeliverable'].includes(o.outcome.kind)).map((o) => o.endpointId));
    const { rows } = await queryWithinBudget<{ id: string; event_id: string; status: string; recheck: boolean }>(
      this.deps,
      recordResults(schema, batch, this.trigger, { succeeded, failed: failing }),
      'recording webhook outcomes',
    );
    this.stats.processed += batch.length;
    for (const attempt of batch) this.unrecorded.delete(attempt.result.id);
    this.stats.superseded += batch.length - rows.length;
    for (const row of rows) {
      if (row.status === 'delivered') this.stats.delivered += 1;
      else if (row.status === 'pending') this.stats.retried += 1;
      else this.stats.failed += 1;
    }
    // Events the record could not settle for sure, completed now that it has committed, before
    // anything else can fail: a concurrent run that settled another of their deliveries may have
    // checked them before this commit, and nothing else would ever complete them. So are the events
    // of outcomes not applied: a delivery deleted meanwhile (its endpoint removed by SQL) may have
    // been the last one its event waited for.
    const applied = new Set(rows.map((r) => r.id));
    const notApplied = batch.filter((a) => !applied.has(a.result.id)).map((a) => a.eventId);
    const recheck = unique([...rows.filter((r) => r.recheck).map((r) => r.event_id), ...notApplied]);
    if (recheck.length > 0) await queryWithinBudget(this.deps, completeEvents(schema, recheck), 'completing events');

    const pauses = new Map<string, number>();
    for (const { endpointId, outcome } of outcomes) {
      const ms = pauseOf(outcome);
      if (ms !== undefined) pauses.set(endpointId, Math.max(ms, pauses.get(endpointId) ?? 0));
    }
    if (pauses.size > 0)
      await queryWithinBudget(
        this.deps,
        pauseEndpoints(
          schema,
          [...pauses].map(([id, ms]) => ({ id, ms })),
        ),
        'pausing throttled endpoints',
      );
    const gone = unique(outcomes.filter((o) => o.outcome.kind === 'gone').map((o) => o.endpointId));
    const suspects = failing.filter((id) => !gone.includes(id));
    const { rows: tooLong } = suspects.length
      ? await db.query<{ id: string; failing_since: Date }>(endpointsFailingTooLong(schema, suspects, outbox.disableAfterHours))
      : { rows: [] };
    const toDisable = [
      ...gone.map((id) => ({ id, reason: 'the endpoint answered 410 Gone' })),
      ...tooLong.map((e) => ({
        id: e.id,
        reason: `only failures since ${e.failing_since.toISOString()} (over ${outbox.disableAfterHours} h)`,
      })),
    ];
    const { disabled, eventIds, deliveryIds } = await namingLockWait('disabling endpoints', () =>
      disableEndpoints(db, schema, toDisable, true, lockWaitSetting(this.deps.budget)),
    );
    for (const id of disabled) this.disabled.add(id);
    this.stats.endpointsDisabled += disabled.length;
    // A delivery counts once: those POSTed and not yet recorded count when recorded (superseded),
    // and one just recorded as retrying now fails with its endpoint.
    const justRetried = new Set(batch.filter((a) => a.result.status === 'pending').map((a) => a.result.id));
    const failedNow = deliveryIds.filter((id) => justRetried.has(id)).length;
    this.stats.retried -= failedNow;
    this.stats.failed += failedNow;
    this.stats.cancelled += deliveryIds.filter((id) => !this.unrecorded.has(id) && !justRetried.has(id)).length;
    // The events of the deliveries the disables failed.
    if (eventIds.length > 0) await queryWithinBudget(this.deps, completeEvents(schema, unique(eventIds)), 'completing events');
  }

  /**
   * Deliveries claimed but never started go back at once rather than waiting out their lease; made
   * after the budget ends, so a row lock held on one is waited for only within the budget's bound.
   */
  private async releaseWaiting(): Promise<void> {
    const unstarted = [...[...this.waiting.values()].flat(), ...this.unsent.splice(0)];
    this.waiting.clear();
    if (unstarted.length > 0) {
      const claims = unstarted.map((d) => ({ id: d.id, attempt: d.attempts }));
      await queryWithinBudget(this.deps, releaseClaims(this.deps.schema, claims), 'giving back unsent deliveries');
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
