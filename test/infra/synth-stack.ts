import { mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Aspects } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { stageConfig } from '../../infra/config.js';
import { ChoresStack } from '../../infra/stack.js';
import type { JobName } from '../../shared/jobs.js';

export const ROOT = join(import.meta.dirname, '../..');
export const cdkContext = (JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;

const outdirs: string[] = [];

/**
 * The real stack, synthesized in this process for `Template.fromStack` assertions, with the context
 * of `cdk.json` (feature flags included). Two things are left to the one `npx cdk synth` of the run
 * (test/infra/synth.test.ts), because each costs seconds to tens of seconds per synthesis and proves
 * nothing new per variant: bundling the handlers with esbuild, and CDK's built-in CloudFormation
 * validation (its WASM engine). Each synthesis writes into a temp dir of its own, removed by
 * {@link removeSynthesized}: `new App()` without an outdir leaves a `/tmp/cdk.out*` per call.
 */
export function synthesize(options: { chores?: unknown; jobs?: JobName[]; nag?: boolean } = {}) {
  const outdir = mkdtempSync(join(tmpdir(), 'chores-cdk-'));
  outdirs.push(outdir);
  const app = new App({ outdir, builtinCloudFormationValidation: false, context: { ...cdkContext, 'aws:cdk:bundling-stacks': [] } });
  const stack = new ChoresStack(app, 'Chores', { config: stageConfig(options.chores ?? {}), ...(options.jobs && { jobs: options.jobs }) });
  if (options.nag) Aspects.of(stack).add(new AwsSolutionsChecks());
  return { stack, template: Template.fromStack(stack) };
}

/** Removes every directory {@link synthesize} wrote (call it in `afterAll`). */
export async function removeSynthesized(): Promise<void> {
  await Promise.all(outdirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}
