import { S3Client } from '@aws-sdk/client-s3';
import { FileStorage } from './file.js';
import type { ObjectStorage } from './port.js';
import { S3Storage } from './s3.js';
import type { StorageLocation } from './url.js';

/** The adapter for a parsed storage URL. Pass `s3` to point at a non-AWS endpoint (tests, s3rver). */
export function openStorage(location: StorageLocation, s3?: S3Client): ObjectStorage {
  if (location.kind === 'file') return new FileStorage(location.dir);
  return new S3Storage(s3 ?? new S3Client({}), location.bucket, location.prefix);
}
