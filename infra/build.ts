import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import { jobNames } from '../shared/jobs.js';
import { bundling } from './bundling.js';

/**
 * `npm run build`: one bundle per job, `dist/<job>/index.mjs` with its source map, exactly as the
 * stack deploys them. Prints each bundle's size.
 */
export async function buildHandlers(outDir = 'dist'): Promise<{ job: string; file: string; bytes: number }[]> {
  const built = [];
  for (const job of jobNames) {
    const file = join(outDir, job, 'index.mjs');
    await build({ ...bundling, entryPoints: [join('functions', `${job}.ts`)], outfile: file });
    built.push({ job, file, bytes: (await stat(file)).size });
  }
  return built;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const { file, bytes } of await buildHandlers()) console.log(`${file.padEnd(34)} ${(bytes / 1024).toFixed(0).padStart(5)} KiB`);
}
