import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { MiddlewareObj } from '@middy/core';
import type { Subsegment } from 'aws-xray-sdk-core';
import pg from 'pg';
import { statementLabel, UNTRACED_STATEMENT } from './statements.js';
import type { SpanFacts, Tracing } from './port.js';

/**
 * Powertools Tracer on active X-Ray: the on-demand chunk `loadTracing` imports in a traced Lambda.
 * Every span is a subsegment of the handler's (`## index.handler`), which `captureLambdaHandler` opens
 * under the segment Lambda records; in Lambda the SDK sends each subsegment to the daemon as it closes.
 */
export function xrayTracing(): Tracing {
  // Not the Tracer's global http(s) patch: it records each request's full URL (a webhook receiver's
  // path may hold its token) and would trace every AWS call twice. Webhook POSTs get a span of
  // their own with the URL cut to its origin (shared/outbox/traced-sender.ts); AWS clients, captureAWSv3Client.
  const tracer = new Tracer({ serviceName: 'chores', captureHTTPsRequests: false });

  const span = <T>(name: string, work: () => Promise<T>, describe?: (outcome: { result?: T; error?: unknown }) => SpanFacts) =>
    tracer.provider.captureAsyncFunc(name, async (subsegment?: Subsegment) => {
      let outcome: { result?: T; error?: unknown } = {};
      try {
        outcome = { result: await work() };
        return outcome.result as T;
      } catch (error) {
        outcome = { error };
        throw error;
      } finally {
        if (subsegment) {
          record(subsegment, describe?.(outcome) ?? {}, outcome.error);
          subsegment.close();
        }
      }
    }) as Promise<T>;

  const annotateJob = (job: string): MiddlewareObj => ({ before: () => tracer.putAnnotation('job', job) });
  return {
    active: true,
    span,
    awsClient: (client) => tracer.captureAWSv3Client(client),
    pgClient: tracedPgClient(span),
    // The response (the run's stats) goes on the handler's subsegment as metadata; errors likewise.
    middlewares: (job) => [captureLambdaHandler(tracer, { captureResponse: true }) as MiddlewareObj, annotateJob(job)],
  };
}

function record(subsegment: Subsegment, facts: SpanFacts, error: unknown): void {
  const target = subsegment as Subsegment & { namespace?: string; http?: unknown };
  if (facts.remote) target.namespace = 'remote';
  for (const [key, value] of Object.entries(facts.annotations ?? {})) subsegment.addAnnotation(key, value);
  if (facts.http) {
    const { method, url, status } = facts.http;
    target.http = { request: { method, url }, ...(status !== undefined && { response: { status } }) };
    if (status === 429) subsegment.addThrottleFlag();
    else if (status !== undefined && status >= 500) subsegment.addFaultFlag();
    else if (status !== undefined && status >= 400) subsegment.addErrorFlag();
  }
  if (facts.sql) {
    const { url, user, statement } = facts.sql;
    subsegment.addSqlData({ url, ...(user && { user }), database_type: 'PostgreSQL', sanitized_query: statement });
  }
  if (error) subsegment.addError(error as Error, facts.remote);
}

type Span = Tracing['span'];
type QueryCallback = (error: Error | null, result?: unknown) => void;

/**
 * A `pg` client whose statements are subsegments: one per statement the services send, which is one
 * per batch (services work in set-based batches, never row by row). Transaction openers and `SET`s
 * are instant and left out; cursors and streams pass through untraced.
 */
function tracedPgClient(span: Span): typeof pg.Client {
  const query = pg.Client.prototype.query as (this: pg.Client, ...args: unknown[]) => unknown;
  class TracedClient extends pg.Client {}
  // Assigned rather than declared: one implementation for pg's many `query` overloads.
  TracedClient.prototype.query = function tracedQuery(this: pg.Client, ...args: unknown[]): unknown {
    const first = args[0] as string | { text?: unknown; submit?: unknown } | undefined;
    const text = typeof first === 'string' ? first : first?.text;
    if (typeof text !== 'string' || typeof (first as { submit?: unknown }).submit === 'function' || UNTRACED_STATEMENT.test(text))
      return query.apply(this, args);
    const statement = statementLabel(text);
    // Host, port, database and user only: the password never reaches a trace.
    const facts = (): SpanFacts => ({
      remote: true,
      annotations: { statement },
      sql: { url: `postgresql://${this.host}:${this.port}/${this.database}`, ...(this.user && { user: this.user }), statement },
    });
    const name = `${this.database}@${this.host}`;
    const callback = args.at(-1);
    if (typeof callback !== 'function') return span(name, () => query.apply(this, args) as Promise<unknown>, facts);
    // pg-pool's `pool.query` hands its client a callback: answer it from the traced promise.
    const rest = args.slice(0, -1);
    const run = () =>
      new Promise((resolve, reject) => query.apply(this, [...rest, (e: Error | null, r?: unknown) => (e ? reject(e) : resolve(r))]));
    span(name, run, facts).then(
      (result) => (callback as QueryCallback)(null, result),
      (error: Error) => (callback as QueryCallback)(error),
    );
    return undefined;
  } as unknown as pg.Client['query'];
  return TracedClient;
}
