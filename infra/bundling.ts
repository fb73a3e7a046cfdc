import type { BuildOptions } from 'esbuild';

/**
 * How every Lambda handler is bundled: by `npm run build`, by the bundle tests and benchmark, and
 * (with the infrastructure issue) by the CDK stack's NodejsFunction, which takes these same values.
 *
 * The AWS SDK is bundled rather than taken from the runtime, so a deploy runs the SDK version the
 * tests ran; `pg-native` is pg's optional native binding, never used.
 */
export const LAMBDA_RUNTIME = 'nodejs22.x';

export const bundling = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  minify: true,
  sourcemap: true,
  mainFields: ['module', 'main'],
  external: ['pg-native'],
  // ESM bundles still meet CommonJS dependencies that call require(); give them one.
  banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  outExtension: { '.js': '.mjs' },
  logLevel: 'warning',
} satisfies BuildOptions;
