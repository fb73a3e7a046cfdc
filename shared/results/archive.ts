import { promisify } from 'node:util';
import type { ObjectStorage } from '../storage/port.js';
import { ArchiveReadError } from './errors.js';

// `node:zlib` is loaded by the first archive written or read, not at import: it costs a Lambda's
// cold start ~2–5 ms, and most runs archive nothing.
const zlib = () => process.getBuiltinModule('node:zlib');

// Keys sort by the time of archiving, which is what `restore --since` prunes on: a row archived
// on day D finished before D, so no object from before the `since` day can hold a match.
export const ARCHIVE_ROOT = 'results/';

// The most JSON one archive batch holds (plus one row, as a row over it goes alone). A batch's rows
// reach Node as one string, then are encoded and gzipped: a few copies of it at once, per concurrent
// stream (two by default, four at most), inside a 512 MB Lambda. Unbounded, one heap page of TOASTed
// rows of 3 MB each (a hundred fit) came back as 300 MB and ran a 200 MB heap out of memory; bounded,
// those 300 MB cleaned under a 96 MB heap (measured). Rows of usual sizes stay well under it: a 60 ms
// batch holds a few MB of them.
export const ARCHIVE_BATCH_BYTES = 16 * 1024 * 1024;
// The rows the first archive batch of a run turns into JSON, before any row was measured: 32 rows of
// 3 MB is ~100 MB of JSON built in Postgres, once; small rows cost one short extra batch.
const FIRST_ARCHIVE_ROWS = 32;
// A cap on an archiving heap range's rows locked and turned into JSON per batch, whatever their size
// measured: the pages of one range can hold ~2.9M rows.
export const MAX_ARCHIVE_RANGE_ROWS = 200_000;

/**
 * How many rows the next archive batch locks and turns into JSON: enough for the byte budget at the
 * size per row the last batch measured, and one more, so the budget rather than this limit usually
 * ends a batch. Without it, Postgres built the JSON of every row in the range or batch (a range of
 * a hundred 3 MB rows: 300 MB) to keep the 16 MiB the budget takes, again for each batch of the range.
 */
export class ArchiveRowLimit {
  private rows = FIRST_ARCHIVE_ROWS;
  constructor(
    private readonly bytes: number,
    private readonly max: number,
  ) {}

  get current(): number {
    return Math.min(this.rows, this.max);
  }

  /** A batch examined `rows` rows of `bytes` JSON in all. */
  measured(rows: number, bytes: number): void {
    if (rows > 0) this.rows = Math.ceil(this.bytes / Math.max(1, bytes / rows)) + 1;
  }
}

/**
 * Whether an archive batch left rows its statement would take next time: ones it locked that the byte
 * bound left out, or possibly more beyond its row limit (`limit`). A batch that deleted nothing made no
 * progress and ends its range or walk. Sizes the next batch's row limit too. A batch without
 * `examined` (no archive) examined what it deleted.
 */
export function leftRows(
  batch: { deleted: number; examined?: number; examined_bytes?: string },
  limit: number,
  rowLimit: ArchiveRowLimit,
): boolean {
  const examined = batch.examined ?? batch.deleted;
  if (batch.examined !== undefined) rowLimit.measured(examined, Number(batch.examined_bytes));
  return batch.deleted > 0 && (batch.deleted < examined || examined >= limit);
}

/** `results/2026/11/21/20261121T031500123Z-<run>-0007.jsonl.gz` (group results under `groups/`). */
export function archiveKey(at: Date, runId: string, batch: number, root: string = ARCHIVE_ROOT): string {
  const iso = at.toISOString();
  const day = iso.slice(0, 10).replaceAll('-', '/');
  const stamp = iso.replace(/[-:.]/g, '');
  return `${root}${day}/${stamp}-${runId}-${String(batch).padStart(4, '0')}.jsonl.gz`;
}

/** The archive day of a key, `2026-11-21`, or undefined for keys chores did not write. */
export function archiveDay(key: string): string | undefined {
  const match = /^(?:results|groups)\/(\d{4})\/(\d{2})\/(\d{2})\//.exec(key);
  return match ? `${match[1]}-${match[2]}-${match[3]}` : undefined;
}

/**
 * One JSON object per line, every column, gzipped: readable with `zcat | jq` anywhere. On libuv's
 * thread pool, so concurrent batches keep their database work going while one compresses. At the
 * fastest level: on result rows it compressed at 184 MB/s to 2.2% of the JSON, against 75 MB/s
 * and 2.1% at zlib's default level 6.
 */
async function encodeRows(rowsJson: string[]): Promise<Uint8Array> {
  const { constants, gzip } = zlib();
  return promisify(gzip)(`${rowsJson.join('\n')}\n`, { level: constants.Z_BEST_SPEED });
}

/**
 * The JSON lines of one archive object, as they were written. Restores hand them to Postgres
 * unparsed: JSON.parse reads every number as a double, so a numeric, a bigint over 2^53 or a number
 * in a jsonb column came back changed (12345678901234567890.000000001 as 12345678901234567000).
 */
export function decodeLines(body: Uint8Array): string[] {
  return zlib()
    .gunzipSync(body)
    .toString('utf8')
    .split('\n')
    .filter((line) => line.length > 0);
}

export function decodeRows(body: Uint8Array): Record<string, unknown>[] {
  return decodeLines(body).map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * One archive object, decoded, for a restore: any failure to read or decode it (a storage error,
 * a truncated object, one that is not gzip) names the object.
 */
async function readObject<T>(storage: ObjectStorage, key: string, decode: (body: Uint8Array) => T): Promise<T> {
  try {
    return decode(await storage.get(key));
  } catch (error) {
    throw new ArchiveReadError(`could not read archive object ${storage.url}/${key}: ${(error as Error).message}`, { cause: error });
  }
}

/** The rows of one archive object (see readObject). */
export const readArchive = (storage: ObjectStorage, key: string): Promise<Record<string, unknown>[]> =>
  readObject(storage, key, decodeRows);

/** The JSON lines of one archive object, unparsed (see decodeLines, readObject). */
export const readArchiveLines = (storage: ObjectStorage, key: string): Promise<string[]> => readObject(storage, key, decodeLines);

export async function writeArchive(storage: ObjectStorage, key: string, rowsJson: string[]): Promise<void> {
  await storage.put(key, await encodeRows(rowsJson), 'application/x-ndjson');
}
