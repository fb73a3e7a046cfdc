import { describe, expect, it } from 'vitest';
import { StorageError } from '../../shared/storage/errors.js';
import { openStorage } from '../../shared/storage/open.js';
import { parseStorageUrl } from '../../shared/storage/url.js';
import {
  TEST_S3_TIMEOUTS,
  TEST_SECRET,
  s3ConfigFor,
  silentEndpoint,
  stallingHttpEndpoint,
  unacceptingEndpoint,
} from '../helpers/stalling.js';

/** The storage the functions get (openStorage, its client built with timeouts), at `endpoint`. */
const archiveAt = (endpoint: string) =>
  openStorage(parseStorageUrl('s3://archive/p', 'TEST'), s3ConfigFor(endpoint), undefined, TEST_S3_TIMEOUTS);

async function failureOf(work: Promise<unknown>): Promise<StorageError> {
  const error = await work.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(error).toBeInstanceOf(StorageError);
  const { message } = error as StorageError;
  expect(message).not.toContain('\n');
  expect(message).not.toContain(TEST_SECRET);
  return error as StorageError;
}

describe('S3 requests are bounded in time', () => {
  it('fails a PUT to an endpoint that accepts and never answers, naming the key and the timeout', async () => {
    const silent = await silentEndpoint();

    const error = await failureOf(archiveAt(silent.endpoint).put('k.jsonl.gz', new Uint8Array([1, 2, 3]), 'application/x-ndjson'));

    expect(error.message).toMatch(/^could not write s3:\/\/archive\/p\/k\.jsonl\.gz: timed out after 3 attempts: .*300 ms of inactivity/);
    expect(silent.connections()).toBe(3);
  });

  it('fails a GET whose body stops midway, naming the key and the timeout', async () => {
    const stalling = await stallingHttpEndpoint(() => 'stall-body');

    const error = await failureOf(archiveAt(stalling.endpoint).get('results/k.jsonl.gz'));

    expect(error.message).toMatch(/^could not read s3:\/\/archive\/p\/results\/k\.jsonl\.gz: timed out: .*300 ms of inactivity/);
    expect(stalling.requests).toEqual(['GET /archive/p/results/k.jsonl.gz?x-id=GetObject']);
  });

  it('fails a request whose connection is never accepted, after the connect timeout', async () => {
    const { endpoint } = await unacceptingEndpoint();

    const error = await failureOf(archiveAt(endpoint).put('k', new Uint8Array([1]), 'text/plain'));

    expect(error.message).toMatch(
      /^could not write s3:\/\/archive\/p\/k: timed out after 3 attempts: .*did not establish a connection .* 300 ms/,
    );
  });

  it.each(['deleteMany', 'probe'] as const)('fails %s when the bucket check hangs, and sends nothing more', async (call) => {
    const silent = await silentEndpoint();

    const error = await failureOf(archiveAt(silent.endpoint)[call](['a', 'b']));

    expect(error.message).toMatch(/^bucket archive is not reachable \(timed out after 3 attempts: .*\); nothing was deleted/);
    expect(silent.connections()).toBe(3);
  });

  it('stops sending HEADs once one times out, deletes nothing, and names the key', async () => {
    // The bucket answers; every object HEAD hangs. (The SDK's retry quota may cut some HEADs' attempts short.)
    const stalling = await stallingHttpEndpoint((request) => (/^\/archive\/?(\?|$)/.test(request.url!) ? 200 : 'stall'));
    const keys = Array.from({ length: 100 }, (_, i) => `upload-${String(i).padStart(3, '0')}`);

    const error = await failureOf(archiveAt(stalling.endpoint).deleteMany(keys));

    expect(error.message).toMatch(/^HEAD s3:\/\/archive\/p\/upload-\d{3} timed out after [1-3] attempts: .*; nothing was deleted/);
    const heads = new Set(stalling.requests.filter((r) => r.startsWith('HEAD /archive/p/')));
    expect(heads.size).toBeLessThan(keys.length);
    expect(stalling.requests.some((r) => r.startsWith('POST'))).toBe(false);
  });

  it('fails deleteMany when DeleteObjects hangs, reporting no key deleted', async () => {
    // Bucket and object HEADs answer 200; the DeleteObjects POST hangs.
    const stalling = await stallingHttpEndpoint((request) => (request.method === 'POST' ? 'stall' : 200));

    const error = await failureOf(archiveAt(stalling.endpoint).deleteMany(['a', 'b']));

    expect(error.message).toMatch(/^DeleteObjects of 2 keys in s3:\/\/archive\/p timed out after 3 attempts: .*; none is reported deleted/);
    expect(stalling.requests.filter((r) => r.startsWith('POST'))).toHaveLength(3);
  });
});
