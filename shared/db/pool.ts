import pg from 'pg';

export type Db = pg.Pool;
export type DbClient = pg.PoolClient;

// Lambda runs one invocation at a time per container, so a handful of connections covers the
// run's lock connection plus its work; more would only crowd RDS when many containers are warm.
const LAMBDA_POOL_SIZE = 4;

export function createPool(connectionString: string, max = LAMBDA_POOL_SIZE): Db {
  const pool = new pg.Pool({ connectionString, max, idleTimeoutMillis: 30_000 });
  // An idle client losing its connection (RDS failover, proxy idle timeout) must not crash the
  // process; the pool drops it and the next checkout opens a new one.
  pool.on('error', () => {});
  return pool;
}

/** Runs `work` in one transaction on one client; rolls back and rethrows on any error. */
export async function inTransaction<T>(db: Db, work: (client: DbClient) => Promise<T>): Promise<T> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
