import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** The `chores` CLI as users run it. */
export const CHORES_BIN = join(import.meta.dirname, '../../bin/chores.mjs');

export interface CliOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in a fresh Node process with exactly `env`; a failing command resolves with its exit code. */
export function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliOutcome> {
  return promisify(execFile)('node', [CHORES_BIN, ...args], { env }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: CliOutcome) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}
