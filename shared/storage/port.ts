/** What happened to one key in a bulk delete. */
export type DeleteOutcome = { status: 'deleted' } | { status: 'missing' } | { status: 'failed'; error: string };

/** Whether one key exists. */
export type ProbeOutcome = { status: 'present' } | { status: 'missing' } | { status: 'failed'; error: string };

/**
 * Object storage as chores uses it: the results archive and the uploads bucket.
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
  /**
   * Deletes many keys, reporting each: deleted now, already missing, or failed (with why). Never
   * throws for a single key's failure, so one bad key cannot hide what happened to the others.
   */
  deleteMany(keys: string[]): Promise<Map<string, DeleteOutcome>>;
  /**
   * Whether each key exists, reporting each; like `deleteMany`, throws only when the location
   * itself is missing (every key would look missing) and never for a single key.
   */
  probe(keys: string[]): Promise<Map<string, ProbeOutcome>>;
}
