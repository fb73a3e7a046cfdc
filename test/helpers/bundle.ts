import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * Runs `script` (an ES module) in a fresh Node process with only a Lambda function's environment
 * (no NODE_OPTIONS or NODE_PATH, as deployed; Powertools quiet) plus `env`, and returns the JSON the
 * script printed last.
 */
export async function runAsDeployed(script: string, cwd: string, env: Record<string, string>) {
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    cwd,
    env: {
      PATH: process.env.PATH!,
      NODE_OPTIONS: '',
      NODE_PATH: '',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
      ...env,
    },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}
