import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp.js';

const BIN = join(import.meta.dirname, '../../bin/chores.mjs');

/** The CLI with no AWS region anywhere: none in the environment, and a HOME without ~/.aws. */
async function choresWithoutRegion(args: string[]) {
  const { AWS_REGION: _r, AWS_DEFAULT_REGION: _d, AWS_PROFILE: _p, AWS_CONFIG_FILE: _c, ...inherited } = process.env;
  const env = { ...inherited, HOME: await tempDir('chores-no-aws-') };
  return promisify(execFile)('node', [BIN, ...args], { env }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}

// A fresh Node process that loads the AWS SDK: a few seconds on a loaded machine.
const SLOW = 60_000;

describe('AWS commands without a region', () => {
  it(
    'say which variable to set instead of the SDK\'s bare "Region is missing"',
    async () => {
      const schedules = await choresWithoutRegion(['schedules', 'list']);

      expect(schedules).toMatchObject({ code: 1, stdout: '' });
      expect(schedules.stderr.trim()).toBe('chores: no AWS region: set AWS_REGION (or AWS_PROFILE, for a profile with a region)');
    },
    SLOW,
  );
});
