import { AssertionError } from 'node:assert';
import { createRequire } from 'node:module';
import { PassThrough, Readable } from 'node:stream';
import * as streamWeb from 'node:stream/web';
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
