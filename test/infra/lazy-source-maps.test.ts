import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleHandler } from '../../infra/build.js';
import { runAsDeployed } from '../helpers/bundle.js';

// One bundle, built once outside the repository; each case damages its own copy's source maps.
const outside = await mkdtemp(join(tmpdir(), 'chores-stack-maps-'));
afterAll(() => rm(outside, { recursive: true, force: true }));
bundleHandler('results-cleanup', join(outside, 'built'));

/** Every source map of a bundle directory (the entry's and its chunks'), as paths. */
async function mapFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.filter((name) => name.endsWith('.map')).map((name) => join(dir, name));
}

/**
 * Invokes the bundle in `dir` with a payload it refuses, in a fresh Node process as deployed (no
 * NODE_OPTIONS): prints the error's stack, or what reading it threw.
 */
async function refusedStack(dir: string): Promise<string> {
  const script = `
    const { handler } = await import(${JSON.stringify(join(dir, 'index.mjs'))});
    const context = { functionName: 'stack-test', awsRequestId: 'r-1', getRemainingTimeInMillis: () => 60_000 };
    const error = await handler({ batchSize: 'many' }, context).then(() => new Error('no error'), (e) => e);
    let stack;
    try { stack = error.stack; } catch (thrown) { stack = 'reading the stack threw: ' + thrown.message; }
    console.log(JSON.stringify(stack));`;
  return (await runAsDeployed(script, outside, { DATABASE_URL: 'postgres://127.0.0.1:1/none' })) as string;
}

async function copyWithMaps(name: string, damage: (map: string, path: string) => Promise<void>): Promise<string> {
  const dir = join(outside, name);
  await promisify(execFile)('cp', ['-r', join(outside, 'built'), dir]);
  for (const path of await mapFiles(dir)) await damage(await readFile(path, 'utf8'), path);
  return dir;
}

describe('a bundle’s stack traces, mapped lazily (infra/shims/lazy-source-maps.ts)', { timeout: 60_000 }, () => {
  it('keep the message and print unmapped frames when the maps are missing, are not JSON, or name no source or one no URL can hold', async () => {
    const missing = await copyWithMaps('missing', (_map, path) => rm(path));
    const corrupt = await copyWithMaps('corrupt', (_map, path) => writeFile(path, '{"version":3,'));
    const unparsable = await copyWithMaps('unparsable', async (map, path) => {
      const parsed = JSON.parse(map) as { sources: string[] };
      parsed.sources = parsed.sources.map(() => 'http://[');
      await writeFile(path, JSON.stringify(parsed));
    });

    const sourceless = await copyWithMaps('sourceless', async (map, path) =>
      writeFile(path, JSON.stringify({ ...JSON.parse(map), sources: [] })),
    );

    for (const dir of [missing, corrupt, unparsable, sourceless]) {
      const stack = await refusedStack(dir);

      expect(stack).toMatch(/^InvalidPayloadError: invalid payload for results-cleanup: batchSize: /);
      expect(stack).toMatch(/^ {4}at .*\/index\.mjs:\d+:\d+\)?$/m);
    }
  });

  it('print sources a map names by URL (a dependency’s webpack:// map) as that URL, instead of throwing when the stack is read', async () => {
    const renamed = await copyWithMaps('webpack', async (map, path) => {
      const parsed = JSON.parse(map) as { sources: string[] };
      parsed.sources = parsed.sources.map((source) => `webpack://chores/${source.replace(/^(\.\.\/)+/, '')}`);
      await writeFile(path, JSON.stringify(parsed));
    });

    const stack = await refusedStack(renamed);

    expect(stack).toMatch(/^InvalidPayloadError: invalid payload for results-cleanup: batchSize: /);
    expect(stack).toMatch(/^ {4}at (async )?[\w.<>]+ \(webpack:\/\/chores\/.*\/shared\/runtime\/[a-z-]+\.ts:\d+:\d+\)$/m);
  });
});
