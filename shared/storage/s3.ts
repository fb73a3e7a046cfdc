import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  type S3Client,
  paginateListObjectsV2,
} from '@aws-sdk/client-s3';
import { ObjectNotFoundError, StorageError } from './errors.js';
import { mapLimit } from './concurrency.js';
import type { DeleteOutcome, ObjectStorage, ProbeOutcome } from './port.js';

// DeleteObjects takes at most 1,000 keys per request.
const DELETE_CHUNK = 1_000;
// HEAD requests in flight at once: enough to hide S3's per-request latency, few enough to stay
// well inside S3's per-prefix request rates.
const HEAD_CONCURRENCY = 32;

/** An S3 bucket and key prefix, through AWS SDK v3. */
export class S3Storage implements ObjectStorage {
  readonly url: string;
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly prefix: string,
  ) {
    this.url = `s3://${bucket}${prefix ? `/${prefix}` : ''}`;
  }

  async put(key: string, body: Uint8Array, contentType: string): Promise<void> {
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key), Body: body, ContentType: contentType }));
    } catch (error) {
      throw new StorageError(`could not write ${this.url}/${key}: ${(error as Error).message}`, { cause: error });
    }
  }

  async get(key: string): Promise<Uint8Array> {
    try {
      const output = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }));
      return await output.Body!.transformToByteArray();
    } catch (error) {
      if (error instanceof NoSuchKey) throw new ObjectNotFoundError(`${this.url}/${key}`);
      throw new StorageError(`could not read ${this.url}/${key}: ${(error as Error).message}`, { cause: error });
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    const base = this.prefix ? `${this.prefix}/` : '';
    try {
      for await (const page of paginateListObjectsV2({ client: this.client }, { Bucket: this.bucket, Prefix: base + prefix })) {
        for (const object of page.Contents ?? []) keys.push(object.Key!.slice(base.length));
      }
    } catch (error) {
      throw new StorageError(`could not list ${this.url}: ${(error as Error).message}`, { cause: error });
    }
    return keys.sort();
  }

  /**
   * S3 answers DeleteObjects with success for keys that never existed, so existence is learnt
   * first with HEAD: a missing object is reported as such (it frees no bytes), and only objects
   * that exist are deleted, 1,000 keys per request, each key's error surfaced.
   */
  async deleteMany(keys: string[]): Promise<Map<string, DeleteOutcome>> {
    await this.requireBucket();
    const outcomes = new Map<string, DeleteOutcome>();
    const present: string[] = [];
    const heads = await mapLimit(keys, HEAD_CONCURRENCY, (key) => this.exists(key));
    keys.forEach((key, i) => {
      const head = heads[i]!;
      if (head === true) present.push(key);
      else if (head === false) outcomes.set(key, { status: 'missing' });
      else outcomes.set(key, { status: 'failed', error: head });
    });
    for (let i = 0; i < present.length; i += DELETE_CHUNK) {
      const chunk = present.slice(i, i + DELETE_CHUNK);
      try {
        const output = await this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: chunk.map((key) => ({ Key: this.keyOf(key) })), Quiet: true },
          }),
        );
        const errors = new Map((output.Errors ?? []).map((e) => [e.Key!, `${e.Code}: ${e.Message ?? ''}`.trim()]));
        for (const key of chunk) {
          const error = errors.get(this.keyOf(key));
          outcomes.set(key, error ? { status: 'failed', error } : { status: 'deleted' });
        }
      } catch (error) {
        for (const key of chunk) outcomes.set(key, { status: 'failed', error: `DeleteObjects failed: ${(error as Error).message}` });
      }
    }
    return outcomes;
  }

  async probe(keys: string[]): Promise<Map<string, ProbeOutcome>> {
    await this.requireBucket();
    const heads = await mapLimit(keys, HEAD_CONCURRENCY, (key) => this.exists(key));
    return new Map(
      keys.map((key, i): [string, ProbeOutcome] => {
        const head = heads[i]!;
        return [key, head === true ? { status: 'present' } : head === false ? { status: 'missing' } : { status: 'failed', error: head }];
      }),
    );
  }

  /**
   * A HEAD in a bucket that does not exist also answers 404: without this check a mistyped
   * bucket name would report every object missing, and their rows would be deleted.
   */
  private async requireBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      throw new StorageError(
        `bucket ${this.bucket} is not reachable (${describeS3Error(error)}); nothing was deleted — check UPLOADS_STORAGE_URL and the role's access`,
        { cause: error },
      );
    }
  }

  /** True, false (404), or the error text. */
  private async exists(key: string): Promise<boolean | string> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }));
      return true;
    } catch (error) {
      if (error instanceof NotFound || (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404)
        return false;
      return `HEAD failed: ${(error as Error).name}: ${(error as Error).message}`;
    }
  }

  private keyOf(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }
}

/**
 * An S3 error as `name: message`. A HEAD answers with a bare status (the name `NotFound` or
 * `403`, no message), but a connection error's name is only `Error`: its message says what failed.
 */
function describeS3Error(error: unknown): string {
  const { name, message } = error as Error;
  return message && message !== name && message !== 'UnknownError' ? `${name}: ${message}` : name;
}
