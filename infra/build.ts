import { cpSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildSync, type Metafile } from 'esbuild';
import { jobNames } from '../shared/jobs.js';
import { bundling } from './bundling.js';

/** Every Lambda entry: the jobs, and the migrations the stack runs on deploy. */
export const HANDLERS = [...jobNames, 'migrate'] as const;

export interface BuiltHandler {
  job: string;
  /** The entry module, `<dir>/index.mjs`. */
  file: string;
  /** What a cold start loads: the entry and the chunks it imports statically. */
  bytes: number;
  /** Those files (absolute paths). */
  loaded: string[];
  /** Chunks only a dynamic `import()` loads (the Redis client), not counted in `bytes`. */
  lazyBytes: number;
}

/**
 * One handler bundled into `dir`, exactly as the stack deploys it: `index.mjs`, the chunks it
 * imports under `chunks/`, source maps, and for migrate its SQL files beside it. Synchronous,
 * because CDK's local bundling (infra/constructs/job-function.ts) calls it.
 */
export function bundleHandler(job: string, dir: string, root = process.cwd()): BuiltHandler {
  const { metafile } = buildSync({
    ...bundling,
    absWorkingDir: root,
    entryPoints: { index: join('functions', `${job}.ts`) },
    outdir: dir,
    metafile: true,
  });
  if (job === 'migrate') cpSync(join(root, 'shared', 'db', 'migrations'), join(dir, 'migrations'), { recursive: true });
  const file = join(dir, 'index.mjs');
  const { eager, all, loaded } = loadedAtInit(metafile);
  return { job, file, bytes: eager, loaded: loaded.map((path) => resolve(root, path)), lazyBytes: all - eager };
}

/** Bytes of the entry plus its static imports (transitively), and of every JavaScript output. */
function loadedAtInit(metafile: Metafile): { eager: number; all: number; loaded: string[] } {
  const outputs = Object.entries(metafile.outputs).filter(([path]) => path.endsWith('.mjs'));
  const byPath = new Map(outputs);
  // Not `entryPoint`: esbuild sets it on every dynamically imported chunk too.
  const entry = outputs.find(([path]) => path.endsWith('index.mjs') && !path.includes('/chunks/'))![0];
  const seen = new Set<string>();
  const visit = (path: string): void => {
    if (seen.has(path)) return;
    seen.add(path);
    for (const imported of byPath.get(path)?.imports ?? [])
      if (imported.kind === 'import-statement' && !imported.external) visit(imported.path);
  };
  visit(entry);
  const size = (paths: Iterable<string>) => [...paths].reduce((sum, path) => sum + byPath.get(path)!.bytes, 0);
  return { eager: size(seen), all: size(byPath.keys()), loaded: [...seen] };
}

/** `npm run build`: one directory per handler, `dist/<name>/`. Prints what each loads at init. */
export async function buildHandlers(outDir = 'dist'): Promise<BuiltHandler[]> {
  return HANDLERS.map((job) => bundleHandler(job, join(outDir, job)));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const { file, bytes, lazyBytes } of await buildHandlers()) {
    const lazy = lazyBytes ? ` (+ ${(lazyBytes / 1024).toFixed(0)} KiB loaded on demand)` : '';
    console.log(
      `${file.padEnd(34)} ${(bytes / 1024).toFixed(0).padStart(5)} KiB${lazy}; ${(statSync(file).size / 1024).toFixed(0)} KiB entry`,
    );
  }
}
