import { resolve } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Tracing } from '../tracing/tracing.js';
import type { DeleteOutcome, ObjectStorage, ProbeOutcome } from './port.js';
import type { StorageLocation } from './url.js';

/**
 * The adapter for a parsed storage URL. Pass `s3` to point at a non-AWS endpoint (tests, s3rver);
 * with `tracing`, each S3 call is a subsegment.
 */
export function openStorage(location: StorageLocation, s3?: S3Client, tracing?: Tracing): ObjectStorage {
  if (location.kind === 'file') {
    // Same laziness for a directory: `node:fs/promises` costs a Lambda's cold start 3–6 ms, and
    // deployed functions archive to S3.
    return new LazyStorage(`file://${resolve(location.dir)}`, async () => new (await import('./file.js')).FileStorage(location.dir));
  }
  const { bucket, prefix } = location;
  return new LazyStorage(`s3://${bucket}${prefix ? `/${prefix}` : ''}`, async () => {
    const [{ S3Client }, { S3Storage }] = await Promise.all([import('@aws-sdk/client-s3'), import('./s3.js')]);
    const client = s3 ?? new S3Client({});
    return new S3Storage(tracing ? tracing.awsClient(client) : client, bucket, prefix);
  });
}

/**
 * Storage whose adapter is imported on first use. The S3 client is ~310 KiB of a bundle, more
 * than everything else a job loads: a function whose archive is a directory or unset never reads
 * it, and one that uses S3 reads it when it first touches an object, not at init.
 */
class LazyStorage implements ObjectStorage {
  private storage?: Promise<ObjectStorage>;

  constructor(
    readonly url: string,
    private readonly load: () => Promise<ObjectStorage>,
  ) {}

  private open(): Promise<ObjectStorage> {
    this.storage ??= this.load();
    return this.storage;
  }

  async put(key: string, body: Uint8Array, contentType: string): Promise<void> {
    return (await this.open()).put(key, body, contentType);
  }
  async get(key: string): Promise<Uint8Array> {
    return (await this.open()).get(key);
  }
  async list(prefix: string): Promise<string[]> {
    return (await this.open()).list(prefix);
  }
  async deleteMany(keys: string[]): Promise<Map<string, DeleteOutcome>> {
    return (await this.open()).deleteMany(keys);
  }
  async probe(keys: string[]): Promise<Map<string, ProbeOutcome>> {
    return (await this.open()).probe(keys);
  }
}
