import type { Dirent } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { ObjectNotFoundError, StorageError } from './errors.js';
import { mapLimit } from './concurrency.js';
import type { DeleteOutcome, ObjectStorage, ProbeOutcome } from './port.js';

// Unlinks are cheap syscalls; a few in flight hide the filesystem's latency without flooding it.
const FILE_DELETE_CONCURRENCY = 16;

/** A local directory standing in for a bucket: development, demos, tests, and on-prem archives. */
export class FileStorage implements ObjectStorage {
  readonly url: string;
  constructor(private readonly root: string) {
    this.url = `file://${resolve(root)}`;
  }

  // Content type is an S3 notion; a directory has nowhere to keep it.
  async put(key: string, body: Uint8Array, _contentType: string): Promise<void> {
    const path = this.pathOf(key);
    const dir = dirname(path);
    const partial = `${path}.partial-${process.pid}`;
    try {
      const created = await mkdir(dir, { recursive: true });
      // Write, fsync, rename, fsync the directory: a reader never sees half an object, and once
      // put returns the object survives a crash or power loss — the results archive commits its
      // delete right after, so an object only in the page cache could lose those rows for good.
      const file = await open(partial, 'w');
      try {
        await file.writeFile(body);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(partial, path);
      await syncDirectory(dir);
      // Directories mkdir just made are entries in their parents, which must reach the disk too.
      for (let child = dir; created !== undefined && child !== dirname(created); child = dirname(child))
        await syncDirectory(dirname(child));
    } catch (error) {
      // A failed write (ENOSPC, EIO, a quota) must not leave its partial file behind.
      await rm(partial, { force: true }).catch(() => {});
      throw new StorageError(`could not write ${this.url}/${key}: ${(error as Error).message}`, { cause: error });
    }
  }

  async get(key: string): Promise<Uint8Array> {
    try {
      return await readFile(this.pathOf(key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ObjectNotFoundError(`${this.url}/${key}`);
      throw new StorageError(`could not read ${this.url}/${key}: ${(error as Error).message}`, { cause: error });
    }
  }

  async list(prefix: string): Promise<string[]> {
    let entries: Dirent[];
    try {
      entries = await readdir(this.root, { recursive: true, withFileTypes: true });
    } catch (error) {
      // As S3 does for a missing bucket: a mistyped location must not read as "nothing archived".
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new StorageError(`${this.url} is not an existing directory — check the storage URL`, { cause: error });
      }
      throw new StorageError(`could not list ${this.url}: ${(error as Error).message}`, { cause: error });
    }
    return entries
      .filter((entry) => entry.isFile())
      .map((entry) => relative(this.root, join(entry.parentPath, entry.name)).split(sep).join('/'))
      .filter((key) => key.startsWith(prefix) && !key.includes('.partial-'))
      .sort();
  }

  async deleteMany(keys: string[]): Promise<Map<string, DeleteOutcome>> {
    await this.requireRoot();
    const outcomes = await mapLimit(keys, FILE_DELETE_CONCURRENCY, async (key): Promise<DeleteOutcome> => {
      try {
        await unlink(this.pathOf(key));
        return { status: 'deleted' };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing' };
        return { status: 'failed', error: (error as Error).message };
      }
    });
    return new Map(keys.map((key, i) => [key, outcomes[i]!]));
  }

  async probe(keys: string[]): Promise<Map<string, ProbeOutcome>> {
    await this.requireRoot();
    const outcomes = await mapLimit(keys, FILE_DELETE_CONCURRENCY, async (key): Promise<ProbeOutcome> => {
      try {
        await stat(this.pathOf(key));
        return { status: 'present' };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing' };
        return { status: 'failed', error: (error as Error).message };
      }
    });
    return new Map(keys.map((key, i) => [key, outcomes[i]!]));
  }

  /** A missing root would make every key look already deleted, and their rows would go. */
  private async requireRoot(): Promise<void> {
    const root = await stat(this.root).catch(() => undefined);
    if (!root?.isDirectory())
      throw new StorageError(`${this.url} is not an existing directory; nothing was deleted — check the storage URL`);
  }

  private pathOf(key: string): string {
    const path = resolve(this.root, key);
    const inside = relative(resolve(this.root), path);
    if (!key || inside.startsWith('..') || inside === '' || key.includes('\0')) {
      throw new StorageError(`refusing key "${key}": it resolves outside ${this.url}`);
    }
    return join(path);
  }
}

/** fsync on a directory makes the entries renamed or created in it durable (POSIX; Linux honours it). */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
