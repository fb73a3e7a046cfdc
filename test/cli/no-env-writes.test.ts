import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// `process.env.X = …`, `process.env.X ??= …`, `process.env['X'] ||= …`, `Object.assign(process.env, …)`, `delete process.env.X`.
const ENV_WRITE = /process\.env(\.\w+|\[[^\]]+\])\s*(\?\?|\|\||&&)?=(?!=)|Object\.assign\(\s*process\.env|delete\s+process\.env/;

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(join(ROOT, dir), { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && /\.(ts|mjs)$/.test(e.name)).map((e) => join(e.parentPath, e.name));
}

describe('configuration reaches the handlers explicitly', () => {
  it('the CLI and its launcher assign no process.env variable', async () => {
    const files = [...(await sourceFiles('cli')), ...(await sourceFiles('bin'))];
    const writes: string[] = [];
    for (const file of files) {
      (await readFile(file, 'utf8')).split('\n').forEach((line, i) => {
        if (ENV_WRITE.test(line)) writes.push(`${file.slice(ROOT.length)}:${i + 1}: ${line.trim()}`);
      });
    }

    expect(files.length).toBeGreaterThan(10); // the scan really read the CLI
    expect(writes).toEqual([]);
  });
});
