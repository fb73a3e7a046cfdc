import type { MiddlewareObj } from '@middy/core';
import type pg from 'pg';

/** What a traced call records: never a secret, a payload, a password or a full webhook URL. */
export interface SpanFacts {
  /** X-Ray's `remote` namespace marks a call to another service (a node on the service map). */
  remote?: boolean;
  /** Searchable key/values (X-Ray annotations): a statement label, an outcome. */
  annotations?: Record<string, string | number | boolean>;
  /** X-Ray's `http` block: method, the URL's origin only, and the response status. */
  http?: { method: string; url: string; status?: number };
  /** X-Ray's `sql` block: the connection without its password, and a statement label. */
  sql?: { url: string; user?: string; statement: string };
}

/**
 * Tracing as the jobs use it: a span around each database statement, webhook POST and AWS call,
 * and the handler's own segment. Two implementations: `noTracing` (local runs, tests, the CLI), and
 * Powertools Tracer on X-Ray (./xray.ts), loaded only in a Lambda with active tracing (./tracing.ts).
 */
export interface Tracing {
  readonly active: boolean;
  /**
   * Runs `work` in a subsegment named `name`. `describe` sees the result (or error) to add facts
   * known only afterwards, e.g. the response status.
   */
  span<T>(name: string, work: () => Promise<T>, describe?: (outcome: { result?: T; error?: unknown }) => SpanFacts): Promise<T>;
  /** An AWS SDK v3 client whose every call is a subsegment, the trace header sent along. */
  awsClient<Client extends object>(client: Client): Client;
  /** The `pg` client class the pool should use, one subsegment per statement; undefined: pg's own. */
  readonly pgClient?: typeof pg.Client;
  /** The handler's segment: the middlewares that open and close it around each invocation. */
  middlewares(job: string): MiddlewareObj[];
}
