import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const out = await mkdtemp(join(tmpdir(), 'chores-cdk-out-'));
afterAll(() => rm(out, { recursive: true, force: true }));

describe('npx cdk synth', () => {
  it('synthesizes the app offline, bundling the migrate function with its SQL', async () => {
    const { AWS_ACCESS_KEY_ID: _a, AWS_SECRET_ACCESS_KEY: _b, AWS_PROFILE: _c, ...env } = process.env;

    await promisify(execFile)('npx', ['cdk', 'synth', '--quiet', '--no-notices', '--no-version-reporting', '-o', out], { cwd: ROOT, env: { ...env, CI: 'true' }, timeout: 180_000 });
    const template = JSON.parse(await readFile(join(out, 'Chores.template.json'), 'utf8')) as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
    const migrate = Object.values(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.FunctionName === 'chores-migrate')!;
    const assetDir = join(out, `asset.${(migrate.Properties.Code as { S3Key: string }).S3Key.replace(/\.zip$/, '')}`);

    expect(await readdir(join(assetDir, 'migrations'))).toEqual(expect.arrayContaining(['0001_task_results.sql', '0002_outbox.sql', '0003_uploads.sql']));
  });
});
