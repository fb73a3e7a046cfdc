import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { SqsDispatcher } from '../../shared/outbox/dispatch.js';
import { lazySqsDispatcher } from '../../shared/outbox/lazy-dispatch.js';
import { loadTracing } from '../../shared/tracing/tracing.js';
import { TRACE_HEADER, xrayDaemon } from '../helpers/xray.js';

// A stand-in for the SQS endpoint on 127.0.0.1 that records each request's headers and accepts
// every message (SQS's JSON protocol), so the real SDK middleware stack runs end to end.
const seen: IncomingHttpHeaders[] = [];
const server = createServer((request, response) => {
  let body = '';
  request.on('data', (chunk) => (body += chunk));
  request.on('end', () => {
    seen.push(request.headers);
    const { Entries } = JSON.parse(body) as { Entries: { Id: string; MessageBody: string }[] };
    const md5 = (text: string) => createHash('md5').update(text).digest('hex'); // the SDK checks it
    response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
    response.end(
      JSON.stringify({
        Successful: Entries.map(({ Id, MessageBody }) => ({ Id, MessageId: `m-${Id}`, MD5OfMessageBody: md5(MessageBody) })),
        Failed: [],
      }),
    );
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
afterAll(() => new Promise((resolve) => server.close(resolve)));
afterEach(() => {
  vi.unstubAllEnvs();
  seen.length = 0;
});

const sqs = () => new SQSClient({ endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });

describe('the fast path carries the producer’s trace', () => {
  it('sends the traced function’s X-Ray trace id with each dispatch, which SQS keeps as AWSTraceHeader', async () => {
    const traceId = 'Root=1-67890abc-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1';
    vi.stubEnv('AWS_LAMBDA_FUNCTION_NAME', 'chores-uploads-notify');
    vi.stubEnv('_X_AMZN_TRACE_ID', traceId);

    const report = await new SqsDispatcher(sqs(), `${endpoint}/123456789012/chores-dispatch`).dispatch(['1', '2']);

    expect(report).toEqual({ sent: 2, failed: [] });
    expect(seen.map((headers) => headers['x-amzn-trace-id'])).toEqual([traceId]);
  });

  it('sends none outside Lambda, where there is no trace to continue', async () => {
    vi.stubEnv('AWS_LAMBDA_FUNCTION_NAME', '');
    vi.stubEnv('_X_AMZN_TRACE_ID', '');

    await new SqsDispatcher(sqs(), `${endpoint}/123456789012/chores-dispatch`).dispatch(['1']);

    expect(seen.map((headers) => headers['x-amzn-trace-id'])).toEqual([undefined]);
  });

  // Last in the file: the X-Ray SDK, once loaded, keeps the daemon address it read.
  it('with the Tracer on, makes each SendMessageBatch a subsegment and sends that subsegment as the trace’s parent', async () => {
    const daemon = await xrayDaemon();
    for (const [key, value] of Object.entries(daemon.lambdaEnv)) vi.stubEnv(key, value);
    try {
      const tracing = await loadTracing(process.env);

      const report = await lazySqsDispatcher(`${endpoint}/123456789012/chores-dispatch`, tracing, sqs()).dispatch(['1', '2']);
      const docs = await daemon.documents();

      expect(report).toEqual({ sent: 2, failed: [] });
      const call = docs.find((d) => d.name === 'SQS');
      expect(call).toMatchObject({ namespace: 'aws', aws: { operation: 'SendMessageBatch' } });
      const root = TRACE_HEADER.split(';')[0];
      expect(seen.map((headers) => headers['x-amzn-trace-id'])).toEqual([`${root};Parent=${call!.id};Sampled=1`]);
      expect(docs.filter((d) => d.raw.includes('eventIds')).map((d) => d.name)).toEqual([]); // no message body
    } finally {
      await daemon.close();
    }
  });
});
