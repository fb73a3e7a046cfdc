/**
 * Object storage as chores uses it: the results archive, and (later) the uploads bucket.
 * Keys are relative to the configured location (`s3://bucket/prefix` or `file:///dir`).
 */
export interface ObjectStorage {
  /** The configured URL, for messages and logs. */
  readonly url: string;
  put(key: string, body: Uint8Array, contentType: string): Promise<void>;
  /** Throws `ObjectNotFoundError` when the key does not exist. */
  get(key: string): Promise<Uint8Array>;
  /** Every key under `prefix`, in lexical order. */
  list(prefix: string): Promise<string[]>;
}
