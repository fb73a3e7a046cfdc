import type { S3Client } from '@aws-sdk/client-s3';
import type { Tracing } from '../tracing/tracing.js';
import { FileStorage } from './file.js';
import type { DeleteOutcome, ObjectStorage, ProbeOutcome } from './port.js';
import type { StorageLocation } from './url.js';

/**
 * The adapter for a parsed storage URL. Pass `s3` to point at a non-AWS endpoint (tests, s3rver);
 * with `tracing`, each S3 call is a subsegment.
 */
export function openStorage(location: StorageLocation, s3?: S3Client, tracing?: Tracing): ObjectStorage {
  if (location.kind === 'file') return new FileStorage(location.dir);
  return new LazyS3Storage(location, s3, tracing);
}

/**
 * S3 storage whose client is imported on first use. The S3 client is ~310 KiB of a bundle, more
 * than everything else a job loads: a function whose archive is a directory or unset never reads
 * it, and one that uses S3 reads it when it first touches an object, not at init.
 */
class LazyS3Storage implements ObjectStorage {
  readonly url: string;
  private storage?: Promise<ObjectStorage>;

  constructor(
    private readonly location: Extract<StorageLocation, { kind: 's3' }>,
    private readonly s3?: S3Client,
    private readonly tracing?: Tracing,
  ) {
    this.url = `s3://${location.bucket}${location.prefix ? `/${location.prefix}` : ''}`;
  }

  private open(): Promise<ObjectStorage> {
    this.storage ??= (async () => {
      const [{ S3Client }, { S3Storage }] = await Promise.all([import('@aws-sdk/client-s3'), import('./s3.js')]);
      const client = this.s3 ?? new S3Client({});
      const traced = this.tracing ? this.tracing.awsClient(client) : client;
      return new S3Storage(traced, this.location.bucket, this.location.prefix);
    })();
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
