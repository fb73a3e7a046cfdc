import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
// @ts-expect-error s3rver ships no type declarations
import S3rver from 's3rver';
import { UNLIMITED_BUDGET } from '../shared/runtime/budget.js';
import { mapLimit } from '../shared/storage/concurrency.js';
import { FileStorage } from '../shared/storage/file.js';
import type { ObjectStorage } from '../shared/storage/port.js';
import { S3Storage } from '../shared/storage/s3.js';
import { cleanupUploads } from '../shared/uploads/cleanup.js';
import { benchDatabase, fmt, schema, type BenchDatabase } from './database.js';

const UPLOADS = 100_000;

/** 100,000 expired uploads with real objects: uploads cleaned per second, local directory and s3rver. */
export async function benchUploads(): Promise<void> {
  const bench = await benchDatabase('chores_bench_uploads');
  const work = await mkdtemp(join(tmpdir(), 'chores-bench-uploads-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: join(work, 's3rver'),
    configureBuckets: [{ name: 'uploads' }],
  });
  const { port } = (await server.run()) as { port: number };
  const client = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  try {
    console.log(`\nuploads-cleanup: ${fmt(UPLOADS)} expired uploads`);
    const keys = Array.from({ length: UPLOADS }, (_, i) => `u/${String(i % 256).padStart(3, '0')}/${i}.bin`);

    const local = new FileStorage(join(work, 'local'));
    let started = performance.now();
    await Promise.all([...new Set(keys.map((k) => k.slice(0, 5)))].map((dir) => mkdir(join(work, 'local', dir), { recursive: true })));
    await mapLimit(keys, 64, (key) => writeFile(join(work, 'local', key), 'x'.repeat(64)));
    console.log(`  local objects written in ${fmt((performance.now() - started) / 1000, 1)} s`);
    await report(bench, local, keys, 'local directory');

    started = performance.now();
    await mapLimit(keys, 64, (key) => client.send(new PutObjectCommand({ Bucket: 'uploads', Key: key, Body: 'x'.repeat(64) })));
    console.log(`  s3rver objects written in ${fmt((performance.now() - started) / 1000, 1)} s`);
    await report(bench, new S3Storage(client, 'uploads', ''), keys, 's3rver (HEAD + DeleteObjects)');
  } finally {
    client.destroy();
    await server.close();
    await rm(work, { recursive: true, force: true });
    await bench.close();
  }
}

async function report(bench: BenchDatabase, storage: ObjectStorage, keys: string[], label: string): Promise<void> {
  await bench.db.query('TRUNCATE chores.uploads');
  await bench.db.query(
    `INSERT INTO chores.uploads (storage_key, size_bytes, created_at) SELECT k, 64, now() - interval '2 days' FROM unnest($1::text[]) AS k`,
    [keys],
  );
  await bench.db.query('VACUUM ANALYZE chores.uploads');
  const started = performance.now();
  const stats = await cleanupUploads({ db: bench.db, schema, storage, ttlHours: 24, budget: UNLIMITED_BUDGET });
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `  ${label.padEnd(31)} ${fmt(stats.deleted / seconds)} uploads/s (${fmt(stats.deleted)} deleted, ${stats.missing} missing, ${stats.failed} failed, ${fmt(stats.bytesFreed)} bytes freed in ${fmt(seconds, 1)} s)`,
  );
}
