import { resolve } from 'node:path';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import type { Tracing } from '../tracing/tracing.js';
import type { DeleteOutcome, ObjectStorage, ProbeOutcome } from './port.js';
import type { StorageLocation } from './url.js';

/** How long one S3 request may wait: to connect, and between two bytes once connected. */
export interface S3Timeouts {
  connectMs: number;
  idleMs: number;
}

/**
 * The SDK's default is no timeout at all: an endpoint that accepts a connection and never answers
 * held a PUT (and results-cleanup's delete transaction, its rows locked) until the Lambda timeout.
 * - `connectMs`: a TCP connect to S3 takes milliseconds; 5 s only fires on a black-holed route or
 *   a dead endpoint (the TLS handshake that follows falls under `idleMs`).
 * - `idleMs`: socket inactivity, not the whole request, so a large archive object that keeps
 *   flowing is never cut; S3 sends its first byte in well under a second, and 30 s of silence
 *   means a hung server (Node's idle timer is armed up to 3 s after connect, so up to 33 s).
 * The SDK tries each request 3 times (standard retry, under 1 s of backoff in all), so the worst
 * case for one S3 call is about 3 × (5 + 33) s ≈ 2 min: inside every job's timeout (the shortest
 * that touches storage, uploads-cleanup, has 5 min), and a storage call that timed out fails the
 * run rather than being tried again by the next batch.
 */
export const S3_TIMEOUTS: S3Timeouts = { connectMs: 5_000, idleMs: 30_000 };

/**
 * The adapter for a parsed storage URL. `s3` points at a non-AWS endpoint (tests, s3rver): a
 * client, used as given, or a client configuration, to which `timeouts` apply as in production;
 * with `tracing`, each S3 call is a subsegment.
 */
export function openStorage(
  location: StorageLocation,
  s3?: S3Client | S3ClientConfig,
  tracing?: Tracing,
  timeouts: S3Timeouts = S3_TIMEOUTS,
): ObjectStorage {
  if (location.kind === 'file') {
    // Same laziness for a directory: `node:fs/promises` costs a Lambda's cold start 3–6 ms, and
    // deployed functions archive to S3.
    return new LazyStorage(`file://${resolve(location.dir)}`, async () => new (await import('./file.js')).FileStorage(location.dir));
  }
  const { bucket, prefix } = location;
  return new LazyStorage(`s3://${bucket}${prefix ? `/${prefix}` : ''}`, async () => {
    const [{ S3Client }, { S3Storage }] = await Promise.all([import('@aws-sdk/client-s3'), import('./s3.js')]);
    const client =
      s3 instanceof S3Client
        ? s3
        : new S3Client({ ...s3, requestHandler: { connectionTimeout: timeouts.connectMs, socketTimeout: timeouts.idleMs } });
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
