import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

/** Every package a module's import graph loads, read from esbuild's metafile (packages left external). */
async function packagesLoadedBy(entry: string): Promise<Set<string>> {
  const { metafile } = await build({
    entryPoints: [fileURLToPath(new URL(entry, import.meta.url))],
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    logLevel: 'silent',
  });
  const imported = Object.values(metafile.inputs).flatMap((input) => input.imports.filter((i) => i.external).map((i) => i.path));
  return new Set(imported.map((path) => (path.startsWith('@') ? path.split('/').slice(0, 2).join('/') : path.split('/')[0]!)));
}

describe('what the registry and the CDK app load', () => {
  it('the registry (shared/jobs.ts) imports no service: its graph loads zod only, not pg', async () => {
    const packages = await packagesLoadedBy('../../shared/jobs.ts');

    expect([...packages]).toEqual(['zod']);
  });

  it('the configuration (shared/config.ts and its fragments) loads no service: zod, and pg only to parse DATABASE_URL', async () => {
    const packages = await packagesLoadedBy('../../shared/config.ts');

    expect([...packages].filter((name) => !name.startsWith('node:')).sort()).toEqual(['pg', 'zod']);
  });

  it('the CDK app (infra/app.ts) never loads pg or a database driver', async () => {
    const packages = await packagesLoadedBy('../../infra/app.ts');

    expect(packages).toContain('aws-cdk-lib'); // the graph was really walked
    expect(packages).not.toContain('pg');
    expect(packages).not.toContain('@redis/client');
  });
});
