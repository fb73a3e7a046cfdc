import { SQSClient } from '@aws-sdk/client-sqs';
import type { Command } from 'commander';
import { isRowId } from '../../shared/db/params.js';
import { parseTimeOrAgo } from '../../shared/duration.js';
import { ChoresError } from '../../shared/errors.js';
import type { DeliveryStats } from '../../shared/outbox/deliver.js';
import { SqsDispatcher } from '../../shared/outbox/dispatch.js';
import { WebhookSender } from '../../shared/outbox/http.js';
import { endpointStatistics, listEvents, showEvent, type DeliveryDetail } from '../../shared/outbox/inspect.js';
import { replay, type ReplayFilter, type ReplayOutcome } from '../../shared/outbox/replay.js';
import { deliverEvents } from '../../shared/outbox/service.js';
import type { AttemptTrigger } from '../../shared/outbox/sql.js';
import { UNLIMITED_BUDGET } from '../../shared/runtime/budget.js';
import { printJson } from '../output.js';
import { withSession, type Session } from '../session.js';

/** What happened when events were handed to the fast path from this machine. */
export interface FastPathReport {
  how: 'sqs' | 'in-process' | 'next-sweep';
  /** SQS: the dispatch failed with this error (the sweep still delivers them). */
  error?: string;
  /** In-process: the run's stats. */
  delivery?: DeliveryStats;
}

/**
 * Hands committed events to the fast path: the SQS queue when OUTBOX_DISPATCH_QUEUE_URL is set,
 * else (on the embedded database) an in-process delivery run, else nothing (the sweep's job).
 */
export async function sendNow({ target, config, db }: Session, eventIds: string[], trigger: AttemptTrigger): Promise<FastPathReport> {
  if (eventIds.length === 0) return { how: 'next-sweep' };
  if (config.outbox.dispatchQueueUrl) {
    const sqs = new SQSClient({});
    try {
      const report = await new SqsDispatcher(sqs, config.outbox.dispatchQueueUrl).dispatch(eventIds);
      return { how: 'sqs', ...(report.failed[0] && { error: report.failed[0].error }) };
    } finally {
      sqs.destroy();
    }
  }
  if (!target.local) return { how: 'next-sweep' };
  const sender = new WebhookSender(config.outbox);
  try {
    const deps = { db, schema: config.schema, outbox: config.outbox, sender, budget: UNLIMITED_BUDGET };
    const stats = await deliverEvents(deps, eventIds, trigger);
    return { how: 'in-process', delivery: stats };
  } finally {
    await sender.close();
  }
}

/** One line per delivery: what actually happened to it. */
export function describeDelivery(
  d: Pick<DeliveryDetail, 'endpoint_id' | 'url' | 'status' | 'attempts' | 'last_status_code' | 'last_error' | 'next_attempt_at'>,
): string {
  const to = `endpoint ${d.endpoint_id} (${d.url})`;
  const last = d.last_status_code !== null ? `HTTP ${d.last_status_code}` : (d.last_error ?? 'no answer');
  if (d.status === 'delivered') return `${to}: delivered (${last}, attempt ${d.attempts})`;
  if (d.status === 'failed') return `${to}: FAILED after ${d.attempts} attempt(s): ${d.last_error ?? last}`;
  if (d.attempts === 0) return `${to}: waiting for its first attempt`;
  return `${to}: not delivered yet (attempt ${d.attempts}: ${d.last_error ?? last}); next attempt ${d.next_attempt_at.toISOString()}`;
}

/** `what` is the object of the sentence (`it`, `them`): "dispatched them to the SQS fast path". */
export function fastPathLine(report: FastPathReport, what: string): string {
  if (report.how === 'sqs')
    return report.error ? `fast path failed (${report.error}); the next sweep delivers ${what}` : `dispatched ${what} to the SQS fast path`;
  if (report.how === 'next-sweep') return `no OUTBOX_DISPATCH_QUEUE_URL: the next sweep (within a minute) delivers ${what}`;
  return `sent ${what} in-process (local fast path)`;
}

function timeOption(option: string, text: string | undefined): Date | undefined {
  if (text === undefined) return undefined;
  try {
    return parseTimeOrAgo(text);
  } catch (error) {
    throw new ChoresError(`${option}: ${(error as Error).message}`);
  }
}

function idOption(option: string, text: string | undefined): string | undefined {
  if (text !== undefined && !isRowId(text)) throw new ChoresError(`${option} must be a numeric id, got "${text}"`);
  return text;
}

/** Replays and, unless a dry run, sends the replayed events on the fast path. */
export async function replayFromCli(
  session: Session,
  filter: ReplayFilter,
  dryRun: boolean,
): Promise<ReplayOutcome & { fastPath?: FastPathReport }> {
  const outcome = await replay(session.db, session.config.schema, filter, { dryRun });
  if (dryRun || outcome.replayed === 0) return outcome;
  return { ...outcome, fastPath: await sendNow(session, outcome.eventIds, 'replay') };
}

export function printReplay(outcome: ReplayOutcome & { fastPath?: FastPathReport }): void {
  const events = outcome.eventIds.length;
  if (outcome.dryRun) {
    console.log(`would replay ${outcome.replayed} deliveries (${events} events) to endpoint ${outcome.endpointId}`);
    return;
  }
  if (outcome.replayed === 0) {
    console.log(`nothing to replay for endpoint ${outcome.endpointId}`);
    return;
  }
  console.log(
    `replayed ${outcome.replayed} deliveries (${events} events) to endpoint ${outcome.endpointId}, each with its original webhook-id`,
  );
  if (outcome.fastPath) console.log(fastPathLine(outcome.fastPath, 'them'));
  const d = outcome.fastPath?.delivery;
  if (d) console.log(`delivered ${d.delivered}, retrying ${d.retried}, failed ${d.failed}`);
}

/** `chores outbox replay|events|show` and `chores endpoints stats`, on the existing command groups. */
export function registerOutboxOps(program: Command): void {
  const group = (name: string) => program.commands.find((c) => c.name() === name)!;
  const outbox = group('outbox');
  outbox
    .command('replay')
    .description("put an endpoint's failed deliveries back in line (same webhook-id, fresh retry cycle) and send them now")
    .requiredOption('--endpoint <id>', 'endpoint id')
    .option('--since <time>', 'events created at or after (ISO 8601, or 24h / 7d ago)')
    .option('--until <time>', 'events created before (ISO 8601, or a duration ago)')
    .option('--event <id>', 'only this event')
    .option('--status <status>', 'failed (default) or all (delivered ones too)', 'failed')
    .option('--dry-run', 'count what would be replayed; change nothing')
    .option('--json', 'print the result as JSON')
    .action(
      async (o: { endpoint: string; since?: string; until?: string; event?: string; status: string; dryRun?: boolean; json?: boolean }) => {
        if (o.status !== 'failed' && o.status !== 'all') throw new ChoresError(`--status must be failed or all, got "${o.status}"`);
        const since = timeOption('--since', o.since);
        const until = timeOption('--until', o.until);
        const eventId = idOption('--event', o.event);
        const filter: ReplayFilter = {
          endpointId: idOption('--endpoint', o.endpoint)!,
          status: o.status,
          ...(since && { since }),
          ...(until && { until }),
          ...(eventId && { eventId }),
        };
        const outcome = await withSession((session) => replayFromCli(session, filter, o.dryRun === true));
        if (o.json) printJson(outcome);
        else printReplay(outcome);
      },
    );
  outbox
    .command('events')
    .description('recent events, newest first, with their deliveries by status')
    .option('--status <status>', 'pending, fanned_out, delivered or failed')
    .option('--type <type>', 'event type')
    .option('--since <time>', 'created at or after (ISO 8601, or 24h / 7d ago)')
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'print as JSON')
    .action(async (o: { status?: string; type?: string; since?: string; limit: string; json?: boolean }) => {
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new ChoresError(`--limit must be a positive whole number, got "${o.limit}"`);
      const since = timeOption('--since', o.since);
      const filter = { limit, ...(o.status && { status: o.status }), ...(o.type && { type: o.type }), ...(since && { since }) };
      const rows = await withSession(({ db, config }) => listEvents(db, config.schema, filter));
      if (o.json) return printJson(rows);
      if (rows.length === 0) return console.log('no events match');
      for (const e of rows) {
        const counts = `${e.delivered}/${e.deliveries} delivered${e.pending ? `, ${e.pending} pending` : ''}${e.failed ? `, ${e.failed} failed` : ''}`;
        console.log(`${e.id.padStart(8)}  ${e.created_at.toISOString()}  ${e.status.padEnd(10)}  ${e.event_type}  (${counts})`);
      }
    });
  outbox
    .command('show')
    .argument('<event id>', 'event id')
    .description('an event, its deliveries and every attempt')
    .option('--json', 'print as JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const event = await withSession(({ db, config }) => showEvent(db, config.schema, id));
      if (o.json) return printJson(event);
      console.log(
        `event ${event.id} ${event.event_type}: ${event.status} (created ${event.created_at.toISOString()}, webhook-id msg_${event.id})`,
      );
      if (event.deliveries.length === 0) console.log('  no deliveries (no endpoint subscribed, or not fanned out yet)');
      for (const d of event.deliveries) {
        console.log(`  ${describeDelivery(d)}`);
        for (const a of d.history) {
          const answer = a.status_code !== null ? `HTTP ${a.status_code}` : (a.error ?? '');
          console.log(
            `    #${a.attempt} ${a.started_at.toISOString()} ${a.trigger.padEnd(9)} ${a.outcome.padEnd(10)} ${String(a.duration_ms).padStart(6)} ms  ${answer}`,
          );
        }
      }
    });
  const endpoints = group('endpoints');
  endpoints
    .command('stats')
    .argument('<id>', 'endpoint id')
    .option('--since <time>', 'window start (ISO 8601, or a duration ago)', '24h')
    .option('--json', 'print as JSON')
    .description("an endpoint's health from its attempts: outcomes, success rate, p50/p95, last error")
    .action(async (id: string, o: { since: string; json?: boolean }) => {
      const since = timeOption('--since', o.since)!;
      const s = await withSession(({ db, config }) => endpointStatistics(db, config.schema, id, since));
      if (o.json) return printJson(s);
      const state = s.isActive
        ? s.failingSince
          ? `failing since ${s.failingSince.toISOString()}`
          : 'active'
        : `disabled: ${s.disabledReason}`;
      const rate = s.successRate === null ? '—' : `${(s.successRate * 100).toFixed(1)}%`;
      console.log(`endpoint ${s.endpointId} ${s.url} — ${state}`);
      console.log(
        `  since ${s.since.toISOString()}: ${s.attempts} attempts, ${s.delivered} delivered, ${s.retried} retried, ${s.failed} failed` +
          `${s.superseded ? `, ${s.superseded} superseded` : ''}; success rate ${rate}`,
      );
      if (s.p50Ms !== null) console.log(`  duration p50 ${s.p50Ms} ms, p95 ${s.p95Ms} ms`);
      if (s.lastError) console.log(`  last error ${s.lastError.at}: ${s.lastError.error}`);
      console.log(`  pending deliveries: ${s.pending}`);
    });
}
