import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client, paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { ObjectNotFoundError, StorageError } from './errors.js';
import type { ObjectStorage } from './port.js';

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
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key), Body: body, ContentType: contentType }),
      );
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

  private keyOf(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }
}
