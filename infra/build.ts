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
  /**
   * What a traced Lambda loads besides (the Tracer chunk, see shared/tracing/tracing.ts): every
   * deployed function runs with active tracing, so `bytes + tracingBytes` is what its init loads.
   */
  tracingBytes: number;
  /** The Tracer chunk's file (absolute path), when the handler has one. */
  tracingChunk?: string;
  /** Chunks only a dynamic `import()` loads (the Redis and S3 clients), counted in neither. */
  lazyBytes: number;
}

/** The module a traced Lambda imports on its first invocation (`loadTracing`). */
const TRACING_CHUNK = 'shared/tracing/xray.ts';

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
  const { eager, tracing, tracer, all, loaded } = loadedAtInit(metafile);
  return {
    job,
    file,
    bytes: eager,
    loaded: loaded.map((path) => resolve(root, path)),
    tracingBytes: tracing,
    ...(tracer && { tracingChunk: resolve(root, tracer) }),
    lazyBytes: all - eager - tracing,
  };
}

/**
 * Bytes of the entry plus its static imports (transitively); of what the Tracer chunk adds to those
 * (transitively too); and of every JavaScript output.
 */
function loadedAtInit(metafile: Metafile): { eager: number; tracing: number; tracer?: string; all: number; loaded: string[] } {
  const outputs = Object.entries(metafile.outputs).filter(([path]) => path.endsWith('.mjs'));
  const byPath = new Map(outputs);
  // Not `entryPoint`: esbuild sets it on every dynamically imported chunk too.
  const entry = outputs.find(([path]) => path.endsWith('index.mjs') && !path.includes('/chunks/'))![0];
  const closure = (from: string, seen = new Set<string>()): Set<string> => {
    if (seen.has(from)) return seen;
    seen.add(from);
    for (const imported of byPath.get(from)?.imports ?? [])
      if (imported.kind === 'import-statement' && !imported.external) closure(imported.path, seen);
    return seen;
  };
  const eager = closure(entry);
  const tracer = outputs.find(([, output]) => output.entryPoint === TRACING_CHUNK)?.[0];
  const traced = tracer ? [...closure(tracer)].filter((path) => !eager.has(path)) : [];
  const size = (paths: Iterable<string>) => [...paths].reduce((sum, path) => sum + byPath.get(path)!.bytes, 0);
  return { eager: size(eager), tracing: size(traced), ...(tracer && { tracer }), all: size(byPath.keys()), loaded: [...eager] };
}

/** `npm run build`: one directory per handler, `dist/<name>/`. Prints what each loads at init. */
export async function buildHandlers(outDir = 'dist'): Promise<BuiltHandler[]> {
  return HANDLERS.map((job) => bundleHandler(job, join(outDir, job)));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const kib = (bytes: number) => (bytes / 1024).toFixed(0);
  for (const { file, bytes, tracingBytes, lazyBytes } of await buildHandlers()) {
    const lazy = lazyBytes ? ` (+ ${kib(lazyBytes)} KiB loaded on demand)` : '';
    console.log(
      `${file.padEnd(34)} ${kib(bytes + tracingBytes).padStart(5)} KiB traced, ${kib(bytes)} untraced${lazy}; ${kib(statSync(file).size)} KiB entry`,
    );
  }
}
