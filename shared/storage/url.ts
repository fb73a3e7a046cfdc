import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';

export type StorageLocation = { kind: 's3'; bucket: string; prefix: string; url: string } | { kind: 'file'; dir: string; url: string };

/** Parses `s3://bucket/prefix` or `file:///absolute/dir`; `variable` names the setting in errors. */
export function parseStorageUrl(text: string, variable: string): StorageLocation {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError([`${variable}: "${text}" is not a URL — use s3://bucket/prefix or file:///absolute/dir`]);
  }
  if (url.protocol === 's3:') {
    if (!url.hostname) throw new ConfigError([`${variable}: "${text}" names no bucket — use s3://bucket/prefix`]);
    return { kind: 's3', bucket: url.hostname, prefix: url.pathname.replace(/^\/+|\/+$/g, ''), url: text };
  }
  if (url.protocol === 'file:') return { kind: 'file', dir: fileURLToPath(url), url: text };
  throw new ConfigError([`${variable}: unsupported scheme "${url.protocol}" — use s3:// or file://`]);
}
