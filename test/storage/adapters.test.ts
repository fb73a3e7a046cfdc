import { readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ObjectNotFoundError, StorageError } from '../../shared/storage/errors.js';
import { FileStorage } from '../../shared/storage/file.js';
import { openStorage } from '../../shared/storage/open.js';
import type { ObjectStorage } from '../../shared/storage/port.js';
import { S3Storage } from '../../shared/storage/s3.js';
import { parseStorageUrl } from '../../shared/storage/url.js';
import { localS3 } from '../helpers/s3.js';
import { tempDir } from '../helpers/temp.js';

const s3 = await localS3(['archive']);
const adapters: [string, () => Promise<ObjectStorage>][] = [
  ['file', async () => new FileStorage(await tempDir('chores-file-'))],
  ['s3 (s3rver)', async () => new S3Storage(s3.client, 'archive', `p${Math.random().toString(36).slice(2)}`)],
  // What the functions get: the S3 adapter behind openStorage, its client imported on first use.
  [
    's3 via openStorage (s3rver)',
    async () => openStorage(parseStorageUrl(`s3://archive/q${Math.random().toString(36).slice(2)}`, 'TEST'), s3.client),
  ],
];

describe.each(adapters)('the %s storage adapter', (_name, open) => {
  it('reads back what it wrote, byte for byte', async () => {
    const storage = await open();
    const body = new Uint8Array([0, 1, 2, 250, 255]);

    await storage.put('results/2026/11/21/a.jsonl.gz', body, 'application/gzip');

    expect(Buffer.from(await storage.get('results/2026/11/21/a.jsonl.gz'))).toEqual(Buffer.from(body));
  });

  it('lists keys under a prefix in order', async () => {
    const storage = await open();
    for (const key of ['results/b', 'results/a', 'other/c']) await storage.put(key, new Uint8Array([1]), 'text/plain');

    expect(await storage.list('results/')).toEqual(['results/a', 'results/b']);
  });

  it('deletes many keys, telling deleted from already missing', async () => {
    const storage = await open();
    await storage.put('u/one', new Uint8Array([1]), 'text/plain');
    await storage.put('u/two', new Uint8Array([2]), 'text/plain');

    const outcomes = await storage.deleteMany(['u/one', 'u/never', 'u/two']);

    expect(Object.fromEntries(outcomes)).toEqual({
      'u/one': { status: 'deleted' },
      'u/never': { status: 'missing' },
      'u/two': { status: 'deleted' },
    });
    expect(await storage.list('u/')).toEqual([]);
  });

  it('probes many keys, telling present from missing, without deleting anything', async () => {
    const storage = await open();
    await storage.put('u/here', new Uint8Array([1]), 'text/plain');

    const outcomes = await storage.probe(['u/here', 'u/gone']);

    expect(Object.fromEntries(outcomes)).toEqual({ 'u/here': { status: 'present' }, 'u/gone': { status: 'missing' } });
    expect(await storage.list('u/')).toEqual(['u/here']);
  });

  it('reports a missing key as ObjectNotFoundError naming the object', async () => {
    const storage = await open();

    await expect(storage.get('results/none')).rejects.toThrow(ObjectNotFoundError);
    await expect(storage.get('results/none')).rejects.toThrow(/results\/none/);
  });
});

describe('storage failures and URLs', () => {
  it('fails a write to a bucket that does not exist with a StorageError naming the object', async () => {
    const storage = new S3Storage(s3.client, 'no-such-bucket', 'x');

    await expect(storage.put('k', new Uint8Array([1]), 'text/plain')).rejects.toThrow(/could not write s3:\/\/no-such-bucket\/x\/k/);
  });

  it('fails a file write under a path that is not a directory', async () => {
    const file = join(await tempDir('chores-file-'), 'plain-file');
    await writeFile(file, 'not a directory');

    await expect(new FileStorage(file).put('a/b', new Uint8Array([1]), 'text/plain')).rejects.toThrow(StorageError);
  });

  it('removes its partial file when a file write fails for real (ENOSPC), leaving no object', async () => {
    const root = await tempDir('chores-file-');
    // The partial file this process would write is /dev/full, where every write fails with ENOSPC.
    await symlink('/dev/full', join(root, `batch.jsonl.gz.partial-${process.pid}`));

    await expect(new FileStorage(root).put('batch.jsonl.gz', new Uint8Array(4096).fill(1), 'application/gzip')).rejects.toThrow(
      /could not write file:.*\/batch\.jsonl\.gz: ENOSPC/,
    );

    expect(await readdir(root)).toEqual([]);
  });

  it('refuses a missing directory when probing, so nothing looks missing by mistake', async () => {
    await expect(new FileStorage('/nonexistent/chores-probe').probe(['k'])).rejects.toThrow(/not an existing directory/);
    await expect(new S3Storage(s3.client, 'no-such-bucket', 'x').probe(['k'])).rejects.toThrow(/bucket no-such-bucket is not reachable/);
  });

  it('refuses keys that would escape the directory', async () => {
    const storage = new FileStorage(await tempDir('chores-file-'));

    await expect(storage.put('../escape', new Uint8Array([1]), 'text/plain')).rejects.toThrow(/outside/);
  });

  it('parses s3 and file URLs and names the variable when one is wrong', () => {
    expect(parseStorageUrl('s3://bucket/some/prefix/', 'X')).toMatchObject({ kind: 's3', bucket: 'bucket', prefix: 'some/prefix' });
    expect(parseStorageUrl('file:///var/archive', 'X')).toMatchObject({ kind: 'file', dir: '/var/archive' });
    expect(() => parseStorageUrl('ftp://host/x', 'RESULTS_ARCHIVE_URL')).toThrow(/RESULTS_ARCHIVE_URL: unsupported scheme "ftp:"/);
    expect(() => parseStorageUrl('not a url', 'RESULTS_ARCHIVE_URL')).toThrow(/RESULTS_ARCHIVE_URL/);
  });
});
