import { AssertionError } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough, Readable } from 'node:stream';
import * as streamWeb from 'node:stream/web';
import { SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error a plain-JavaScript build shim, without types
import { pipeline, ReadableStream } from '../../infra/shims/middy-streams.mjs';

describe("the build's stand-in for @middy/core's stream imports", () => {
  it('recognizes a web ReadableStream as Node’s own class does, and nothing else', () => {
    expect(new streamWeb.ReadableStream()).toBeInstanceOf(ReadableStream);
    expect(Readable.from(['x'])).not.toBeInstanceOf(ReadableStream);
    expect({}).not.toBeInstanceOf(ReadableStream);
  });

  it('pipes a stream to its end as stream/promises’ pipeline does', async () => {
    const chunks: string[] = [];
    const sink = new PassThrough().on('data', (chunk: Buffer) => chunks.push(chunk.toString()));

    await pipeline(Readable.from(['a', 'b']), sink);

    expect(chunks.join('')).toBe('ab');
  });
});

describe("the build's stand-in for cls-hooked's assert", () => {
  const assert = createRequire(import.meta.url)('../../infra/shims/assert-ok.cjs') as { ok(value: unknown, message?: string): void };

  it('passes a truthy value and throws node:assert’s AssertionError, with the message, for a falsy one', () => {
    expect(() => assert.ok(1, 'unused')).not.toThrow();
    expect(() => assert.ok(0, 'context must be provided for entering')).toThrow(AssertionError);
    expect(() => assert.ok(undefined, 'context must be provided for entering')).toThrow('context must be provided for entering');
  });
});

describe("the build's stand-in for aws-xray-sdk-core's index", () => {
  const require = createRequire(import.meta.url);
  const shim = require('../../infra/shims/xray-core.cjs') as Record<string, unknown>;
  const sdk = require('aws-xray-sdk-core') as Record<string, unknown>;

  /** Every name Powertools Tracer's ESM build (what the bundles use) reads from the SDK's module object. */
  function namesTheTracerReads(): string[] {
    const dir = fileURLToPath(new URL('../../node_modules/@aws-lambda-powertools/tracer/lib/esm', import.meta.url));
    const code = readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.js'))
      .map((file) => readFileSync(join(dir, file), 'utf8'))
      .join('\n');
    const destructured = [...code.matchAll(/const \{([^}]*)\} = xraySdk;/g)].flatMap(([, names]) =>
      names!.split(',').map((name) => name.split(':')[0]!.trim()),
    );
    const accessed = [...code.matchAll(/xraySdk\.(\w+)/g)].map(([, name]) => name!);
    return [...new Set([...destructured, ...accessed].filter(Boolean))];
  }

  it('gives the Tracer every name it reads from the SDK, the SDK’s own function or class wherever chores uses it', () => {
    const names = namesTheTracerReads();

    expect(names).toContain('captureAsyncFunc'); // the Tracer's code was really read
    for (const name of names) expect(shim[name], name).toBeTypeOf('function');
    const leftOut = ['captureAWS', 'captureAWSClient', 'captureHTTPsGlobal', 'captureAWSv3Client'];
    for (const name of names.filter((n) => !leftOut.includes(n))) expect(shim[name], name).toBe(sdk[name]);
  });

  it('wraps an SDK v3 client with the SDK’s own X-Ray middleware, loading that patcher on first use', () => {
    const client = new SQSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });

    const wrapped = (shim.captureAWSv3Client as (c: SQSClient) => SQSClient)(client);

    expect(wrapped).toBe(client);
    expect(client.middlewareStack.identify().join('\n')).toContain('XRaySDKInstrumentation');
  });

  it('throws, naming the stand-in, for the SDK v2 and global http(s) patchers chores never calls', () => {
    for (const name of ['captureAWS', 'captureAWSClient', 'captureHTTPsGlobal'])
      expect(() => (shim[name] as () => void)(), name).toThrow(/left out of chores' Lambda bundles \(infra\/shims\/xray-core.cjs\)/);
  });
});
