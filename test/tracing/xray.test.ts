import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { makeHandler } from '../../functions/outbox-deliver.js';
import { handlerFromEnv } from '../../shared/runtime/runtime.js';
import { openStorage } from '../../shared/storage/open.js';
import { parseStorageUrl } from '../../shared/storage/url.js';
import { loadTracing } from '../../shared/tracing/tracing.js';
import { testDatabase } from '../helpers/db.js';
import { lambdaContext } from '../helpers/lambda.js';
import { addTestEndpoint, publishEvents } from '../helpers/outbox.js';
import { startReceiver } from '../helpers/receiver.js';
import { localS3 } from '../helpers/s3.js';
import { TRACE_HEADER, type XrayDocument, xrayDaemon } from '../helpers/xray.js';

// Powertools Tracer and the X-Ray SDK exactly as a traced Lambda runs them, sending to a real UDP
// socket standing in for the daemon. The SDK reads its environment when it loads: set it first.
const { db, url, name: database } = await testDatabase();
const daemon = await xrayDaemon();
const receiver = await startReceiver();
const s3 = await localS3(['traced']);
beforeAll(() => {
  for (const [key, value] of Object.entries(daemon.lambdaEnv)) vi.stubEnv(key, value);
  // Powertools reads these from the process, not from the env a runtime is built with.
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await daemon.close();
});

const handlerSegment = (docs: XrayDocument[]) => docs.find((d) => d.name === '## index.handler')!;

describe('traces under active X-Ray', () => {
  it('records a run as the handler’s subsegment, each database batch statement and each webhook POST beneath it, and no secret', async () => {
    // Arrange: 30 events for one endpoint whose URL path holds a token, as some receivers' do.
    const token = 'tok3n-in-the-path';
    const endpoint = await addTestEndpoint(db, `${receiver.url}/hooks/${token}?key=${token}`);
    await publishEvents(
      db,
      Array.from({ length: 30 }, (_, i) => ({ type: 'file.expiring', payload: { i } })),
    );
    const handler = handlerFromEnv(
      {
        ...process.env,
        DATABASE_URL: url,
        OUTBOX_ALLOW_HTTP: 'true',
        OUTBOX_ALLOWED_CIDRS: '127.0.0.1/32',
      },
      makeHandler,
    );

    // Act
    const stats = await handler({}, lambdaContext());
    const docs = await daemon.documents();

    // Assert: the run, under the trace Lambda started.
    expect(stats).toMatchObject({ job: 'outbox-deliver', delivered: 30 });
    const run = handlerSegment(docs);
    expect(run).toMatchObject({ trace_id: TRACE_HEADER.slice(5, 40), parent_id: '53995c3f42cd8ad8' });
    expect(run.annotations).toMatchObject({ job: 'outbox-deliver', Service: 'chores', ColdStart: true });
    // Statements: named database@host, labelled by verb and table, fewer than the rows they handled.
    const statements = docs.filter((d) => d.name === `${database}@127.0.0.1`);
    expect(statements.length).toBeGreaterThan(2);
    expect(statements.length).toBeLessThan(30);
    expect(statements.every((d) => d.parent_id === run.id && d.namespace === 'remote')).toBe(true);
    expect(statements.map((d) => d.sql!.sanitized_query)).toContain('SELECT pg_try_advisory_lock');
    expect(statements[0]!.sql).toMatchObject({
      url: `postgresql://127.0.0.1:${new URL(url).port}/${database}`,
      database_type: 'PostgreSQL',
    });
    // POSTs: named by the receiver's host, the URL cut to its origin, the status and the outcome.
    const posts = docs.filter((d) => d.name === new URL(receiver.url).host);
    expect(posts).toHaveLength(30);
    expect(posts[0]).toMatchObject({
      parent_id: run.id,
      namespace: 'remote',
      http: { request: { method: 'POST', url: receiver.url }, response: { status: 200 } },
      annotations: { outcome: 'delivered' },
    });
    // Nothing secret: the endpoint's secret, the signatures sent, the URL's token, the DB password.
    const signature = String(receiver.received[0]!.headers['webhook-signature']);
    const password = decodeURIComponent(new URL(url).password);
    expect(password).not.toBe('');
    for (const secret of [endpoint.secret, endpoint.secret.replace('whsec_', ''), signature, token, password])
      expect(docs.filter((d) => d.raw.includes(secret)).map((d) => d.name)).toEqual([]);
  });

  it('records each S3 call as an AWS subsegment naming the operation', async () => {
    const tracing = await loadTracing(process.env);
    const storage = openStorage(parseStorageUrl('s3://traced/archive', 'TEST'), s3.client, tracing);

    await storage.put('a.jsonl.gz', new Uint8Array([1, 2, 3]), 'application/gzip');
    const docs = await daemon.documents();

    const call = docs.find((d) => d.name === 'S3' && (d.aws as { operation?: string } | undefined)?.operation === 'PutObject');
    expect(call).toMatchObject({ namespace: 'aws', http: { response: { status: 200 } } });
    expect(docs.filter((d) => d.raw.includes('S3RVER')).map((d) => d.name)).toEqual([]); // the credentials
  });

  it('loads nothing outside a traced Lambda: local runs, tests and the CLI keep the no-op tracing', async () => {
    expect((await loadTracing({ AWS_XRAY_DAEMON_ADDRESS: '127.0.0.1:2000' })).active).toBe(false); // not a Lambda
    expect((await loadTracing({ ...daemon.lambdaEnv, POWERTOOLS_TRACE_ENABLED: 'false' })).active).toBe(false);
    expect((await loadTracing(daemon.lambdaEnv)).active).toBe(true);
  });
});
