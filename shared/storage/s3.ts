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
      throw new StorageError(`could not write ${this.url}/${key}: ${describeS3Error(error)}`, { cause: error });
    }
  }

  async get(key: string): Promise<Uint8Array> {
    try {
      const output = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }));
      return await output.Body!.transformToByteArray();
    } catch (error) {
      if (error instanceof NoSuchKey) throw new ObjectNotFoundError(`${this.url}/${key}`);
      throw new StorageError(`could not read ${this.url}/${key}: ${describeS3Error(error)}`, { cause: error });
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
      throw new StorageError(`could not list ${this.url}: ${describeS3Error(error)}`, { cause: error });
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
    const heads = await this.heads(keys);
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
        if (isTimeout(error)) {
          // S3 may have deleted some of them; their rows stay, and the next run's HEAD finds out.
          const what = `DeleteObjects of ${chunk.length} keys in ${this.url} ${describeS3Error(error)}`;
          throw new StorageError(`${what}; none is reported deleted — check the S3 endpoint and network`, { cause: error });
        }
        for (const key of chunk) outcomes.set(key, { status: 'failed', error: `DeleteObjects failed: ${(error as Error).message}` });
      }
    }
    return outcomes;
  }

  async probe(keys: string[]): Promise<Map<string, ProbeOutcome>> {
    await this.requireBucket();
    const heads = await this.heads(keys);
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

  /**
   * HEAD of each key: true, false (404), or the error text. A timeout is the endpoint's fault, not
   * the key's: no further HEAD is sent, and the call throws (only the HEADs already in flight wait
   * out theirs), so a hung endpoint costs one request's worst case rather than one per key.
   */
  private async heads(keys: string[]): Promise<(boolean | string)[]> {
    let timedOut: StorageError | undefined;
    const heads = await mapLimit(keys, HEAD_CONCURRENCY, async (key) => {
      if (timedOut) return 'not tried: an earlier HEAD timed out';
      try {
        await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }));
        return true;
      } catch (error) {
        if (error instanceof NotFound || (error as SdkError).$metadata?.httpStatusCode === 404) return false;
        if (isTimeout(error)) {
          const what = `HEAD ${this.url}/${key} ${describeS3Error(error)}`;
          timedOut ??= new StorageError(`${what}; nothing was deleted — check the S3 endpoint and network`, { cause: error });
        }
        return `HEAD failed: ${(error as Error).name}: ${(error as Error).message}`;
      }
    });
    if (timedOut) throw timedOut;
    return heads;
  }

  private keyOf(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }
}

type SdkError = Error & { $metadata?: { httpStatusCode?: number; attempts?: number } };

/** The SDK names every timeout (connect, socket idle) `TimeoutError`; see `S3_TIMEOUTS` in open.ts. */
function isTimeout(error: unknown): boolean {
  return (error as Error).name === 'TimeoutError';
}

/**
 * An S3 error as `name: message`. A HEAD answers with a bare status (the name `NotFound` or
 * `403`, no message), but a connection error's name is only `Error`: its message says what failed.
 * A timeout says so first, with the SDK's attempts (its retries waited out the same timeout).
 */
function describeS3Error(error: unknown): string {
  const { name, message } = error as Error;
  if (isTimeout(error)) {
    const attempts = (error as SdkError).$metadata?.attempts;
    const what = message.replace(/^@smithy\/node-http-handler - /, '').replace(/\.$/, '');
    return `timed out${attempts ? ` after ${attempts} attempts` : ''}: ${what}`;
  }
  return message && message !== name && message !== 'UnknownError' ? `${name}: ${message}` : name;
}
