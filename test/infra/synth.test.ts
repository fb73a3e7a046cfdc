import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './synth-stack.js';

const run = promisify(execFile);
type CfnTemplate = { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };

// The one full synthesis of the run, as an operator runs it: the CDK CLI, offline, with the stage
// given on the command line. It alone bundles every handler with esbuild and runs CDK's built-in
// CloudFormation validation (an error under the flags in cdk.json), so the tests below share it.
const out = await mkdtemp(join(tmpdir(), 'chores-cdk-out-'));
let template: CfnTemplate;
beforeAll(async () => {
  const { AWS_ACCESS_KEY_ID: _a, AWS_SECRET_ACCESS_KEY: _b, AWS_PROFILE: _c, ...env } = process.env;
  await run('npx', ['cdk', 'synth', '--quiet', '--no-notices', '--no-version-reporting', '-o', out, '-c', 'chores={"prefix":"stage2"}'], {
    cwd: ROOT,
    env: { ...env, CI: 'true' },
  });
  template = JSON.parse(await readFile(join(out, 'Chores.template.json'), 'utf8')) as CfnTemplate;
  // Genuinely slow: a tsx start, seven esbuild bundles and the validation engine take 1 to 3.5 min
  // on the shared 2-core machine under load.
}, 480_000);
afterAll(() => rm(out, { recursive: true, force: true }));

/** cfn-lint's findings on a template, as JSON; fails naming the fix when cfn-lint is not installed. */
async function cfnLint(file: string): Promise<{ Rule: { Id: string }; Level: string; Message: string }[]> {
  try {
    const { stdout } = await run('cfn-lint', ['--format', 'json', file]);
    return JSON.parse(stdout || '[]');
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (failure.code === 'ENOENT' || /No such file|not found|command not found/.test(failure.stderr ?? '')) {
      throw new Error('cfn-lint is not installed: the infrastructure tests lint the synthesized template with it (pip install cfn-lint)');
    }
    // cfn-lint exits non-zero whenever it reports anything; its findings are still on stdout.
    if (failure.stdout) return JSON.parse(failure.stdout);
    throw error;
  }
}

describe('npx cdk synth', () => {
  it("synthesizes the documented stage form -c chores='{…}' offline, every function named by the stage", () => {
    const names = Object.values(template.Resources)
      .filter((r) => r.Type === 'AWS::Lambda::Function')
      .map((r) => String(r.Properties.FunctionName));

    expect(names).toEqual(expect.arrayContaining(['stage2-results-cleanup', 'stage2-outbox-deliver', 'stage2-migrate']));
  });

  it('bundles the migrate function with its SQL', async () => {
    const migrate = Object.values(template.Resources).find(
      (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.FunctionName === 'stage2-migrate',
    )!;
    const assetDir = join(out, `asset.${(migrate.Properties.Code as { S3Key: string }).S3Key.replace(/\.zip$/, '')}`);

    expect(await readdir(join(assetDir, 'migrations'))).toEqual(
      expect.arrayContaining(['0001_task_results.sql', '0002_outbox.sql', '0003_uploads.sql']),
    );
  });

  it('bundles each function from its own entry, with its chunks', async () => {
    const functions = Object.values(template.Resources).filter(
      (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Handler === 'index.handler',
    );
    const assets = functions.map((fn) => join(out, `asset.${(fn.Properties.Code as { S3Key: string }).S3Key.replace(/\.zip$/, '')}`));

    expect(new Set(assets).size).toBe(functions.length); // one asset each, not the first one bundled reused
    for (const dir of assets) expect(await readdir(dir)).toEqual(expect.arrayContaining(['index.mjs', 'chunks']));
  });

  it('passes cfn-lint with no errors and a database engine version that can still be created', async () => {
    const findings = await cfnLint(join(out, 'Chores.template.json'));

    expect(findings.filter((f) => f.Level === 'Error').map((f) => `${f.Rule.Id}: ${f.Message}`)).toEqual([]);
    expect(findings.filter((f) => f.Rule.Id === 'W3691').map((f) => f.Message)).toEqual([]);
  }, 180_000); // cfn-lint starts a Python interpreter and loads every resource schema: 15 s idle, 80 s under load

  it('prints one line, not a stack trace, for a stage it refuses', async () => {
    // The app as the CLI runs it, given context the way the CLI passes it (CDK_CONTEXT_JSON).
    const failure = await run(process.execPath, ['--import', 'tsx', 'infra/app.ts'], {
      cwd: ROOT,
      env: { ...process.env, CDK_OUTDIR: out, CDK_CONTEXT_JSON: JSON.stringify({ chores: '{"prefix":"Stage 2"}' }) },
    }).catch((error: { code: number; stderr: string }) => error);

    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stderr: string }).stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^invalid "chores" CDK context: prefix: /),
    ]);
  }, 120_000); // a fresh tsx process loading aws-cdk-lib: 5 s idle, 30 s under load
});
