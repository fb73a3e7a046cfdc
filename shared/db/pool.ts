import pg from 'pg';
import type { DatabaseConnection } from './connection.js';

export type Db = pg.Pool;
export type DbClient = pg.PoolClient;

// Lambda runs one invocation at a time per container, so a handful of connections covers the
// run's lock connection plus its work; more would only crowd RDS when many containers are warm.
const LAMBDA_POOL_SIZE = 4;
// pg waits for a connection forever by default: a server (or proxy) that accepts the TCP connection
// and never answers held a run until the Lambda timeout killed it, leaving it STARTED with nothing
// said. RDS Proxy answers in milliseconds, a cold one or a failover in a few seconds. The same bound
// applies to waiting for a free client of the pool, which a run's few connections never make long.
export const CONNECT_TIMEOUT_MS = 10_000;

/**
 * `Client`: the `pg` client class to connect with (a traced one under X-Ray; pg's own by default).
 * `connectTimeoutMs`: how long a new connection may take (CONNECT_TIMEOUT_MS; tests shorten it).
 */
export function createPool(
  connection: DatabaseConnection,
  max = LAMBDA_POOL_SIZE,
  Client?: typeof pg.Client,
  connectTimeoutMs = CONNECT_TIMEOUT_MS,
): Db {
  const common = { max, idleTimeoutMillis: 30_000, connectionTimeoutMillis: connectTimeoutMs, ...(Client && { Client }) };
  const pool = connection.kind === 'url' ? new pg.Pool({ connectionString: connection.url, ...common }) : iamPool(connection, common);
  // An idle client losing its connection (RDS failover, proxy idle timeout) must not crash the
  // process; the pool drops it and the next checkout opens a new one.
  pool.on('error', () => {});
  return pool;
}

/**
 * RDS IAM authentication: each new connection signs a short-lived token with the function's role
 * (no secret to fetch or leak), over TLS, which IAM authentication requires. RDS Proxy presents
 * a certificate from Amazon's public roots, which Node trusts by default.
 */
function iamPool(connection: Extract<DatabaseConnection, { kind: 'iam' }>, common: pg.PoolConfig): pg.Pool {
  // Loaded on first connect: the signer brings the SDK's signing code, which only IAM needs.
  const signer = import('./iam-token.js').then(({ rdsAuthTokenSigner }) => rdsAuthTokenSigner(connection));
  const token = async () => (await signer)();
  return new pg.Pool({
    host: connection.host,
    port: connection.port,
    database: connection.database,
    user: connection.user,
    password: token,
    ssl: { rejectUnauthorized: true },
    ...common,
  });
}

/**
 * Runs `work` in one transaction on one client; rolls back and rethrows on any error. `settings`
 * (`SET LOCAL …` statements, no parameters) go with the BEGIN, in the same round trip.
 */
export async function inTransaction<T>(db: Db, work: (client: DbClient) => Promise<T>, settings?: string): Promise<T> {
  const client = await db.connect();
  // A connection lost mid-transaction (its backend terminated, a failover) fails the statement in
  // flight, then pg emits `'error'` on the client as well: unheard, that is an uncaught exception,
  // which ends a Lambda's process and the run's own error with it. The pool drops the dead client.
  const lost = (): void => {};
  client.on('error', lost);
  try {
    await client.query(settings ? `BEGIN; ${settings}` : 'BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.off('error', lost);
    client.release();
  }
}
