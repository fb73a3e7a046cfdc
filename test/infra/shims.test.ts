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
