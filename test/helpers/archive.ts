import { gunzipSync } from 'node:zlib';
import type { ObjectStorage } from '../../shared/storage/port.js';

/** Each archive object's lines under `root`, as they were written: the JSON bytes a batch held. */
export async function objectLineBytes(archive: ObjectStorage, root: string): Promise<number[][]> {
  const keys = await archive.list(root);
  return Promise.all(
    keys.map(async (key) =>
      gunzipSync(await archive.get(key))
        .toString('utf8')
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => Buffer.byteLength(line)),
    ),
  );
}
