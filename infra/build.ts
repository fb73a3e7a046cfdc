import { cp, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import { jobNames } from '../shared/jobs.js';
import { bundling } from './bundling.js';

/** Every Lambda entry: the jobs, and the migrations the stack runs on deploy. */
export const HANDLERS = [...jobNames, 'migrate'] as const;

/**
 * `npm run build`: one bundle per handler, `dist/<name>/index.mjs` with its source map, exactly as
 * the stack deploys them (the migrate bundle with its SQL files beside it). Prints each size.
 */
export async function buildHandlers(outDir = 'dist'): Promise<{ job: string; file: string; bytes: number }[]> {
  const built = [];
  for (const job of HANDLERS) {
    const file = join(outDir, job, 'index.mjs');
    await build({ ...bundling, entryPoints: [join('functions', `${job}.ts`)], outfile: file });
    if (job === 'migrate') await cp(join('shared', 'db', 'migrations'), join(outDir, job, 'migrations'), { recursive: true });
    built.push({ job, file, bytes: (await stat(file)).size });
  }
  return built;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const { file, bytes } of await buildHandlers()) console.log(`${file.padEnd(34)} ${(bytes / 1024).toFixed(0).padStart(5)} KiB`);
}
