import type { BuildOptions } from 'esbuild';

/**
 * How every Lambda handler is bundled (infra/build.ts): by `npm run build`, by the bundle tests and
 * benchmark, and by the CDK stack's local bundling (infra/constructs/job-function.ts). Code splitting
 * is why the stack bundles with esbuild itself: NodejsFunction writes a single `--outfile`.
 *
 * The AWS SDK is bundled rather than taken from the runtime (nodejs22.x ships v3), so a deploy runs
 * the SDK version the tests ran. It costs no cold start: the S3 and SQS clients are on-demand chunks
 * (shared/storage/open.ts, shared/outbox/lazy-dispatch.ts), read when a run first touches a bucket or
 * the queue, and the runtime's unbundled copy measured slower to import than ours (README,
 * _Benchmarks_), which is what a first call would pay instead. `pg-native` is pg's optional native
 * binding, never used.
 */
export const LAMBDA_RUNTIME = 'nodejs22.x';

export const bundling = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  minify: true,
  // Minified, `LockLostError` became `de`: in every logged error, in the exc_type a failed run
  // records, and in any check of an error's name. Names kept cost ~16 KiB a bundle.
  keepNames: true,
  // Stack traces in the logs point at our TypeScript, not at column 48,213 of a minified line: each
  // bundle file's map is read when a stack is first printed (the injected shim), not at every cold
  // start as under NODE_OPTIONS=--enable-source-maps (8–20 ms of each, `npm run bench -- bundles`).
  sourcemap: true,
  // Positions and names only, all a stack trace needs: the sources' text made the maps three times
  // larger (2.8 MB for outbox-deliver), all of it read and parsed to print one stack.
  sourcesContent: false,
  mainFields: ['module', 'main'],
  // ESM chunks: what a handler imports dynamically (the Redis client of results-cleanup, the RDS IAM
  // signer) is its own file, read only when imported, instead of being parsed on every cold start.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  external: ['pg-native'],
  // The Tracer gets the parts of the X-Ray SDK it uses; only the SDK's cls-hooked imports `assert`,
  // for `ok`; only @middy/core the two stream modules, for response streaming, which loads them on
  // use: see the shims.
  alias: {
    'aws-xray-sdk-core': './infra/shims/xray-core.cjs',
    assert: './infra/shims/assert-ok.cjs',
    'node:stream/web': './infra/shims/middy-streams.mjs',
    'node:stream/promises': './infra/shims/middy-streams.mjs',
  },
  // ESM bundles still meet CommonJS dependencies that call require(); give them one.
  inject: ['./infra/shims/lazy-source-maps.ts'],
  banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  outExtension: { '.js': '.mjs' },
  logLevel: 'warning',
} satisfies BuildOptions;
