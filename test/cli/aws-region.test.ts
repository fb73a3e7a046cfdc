import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

/** The CLI with no AWS region anywhere: none in the environment, and a HOME without ~/.aws. */
async function choresWithoutRegion(args: string[]) {
  const { AWS_REGION: _r, AWS_DEFAULT_REGION: _d, AWS_PROFILE: _p, AWS_CONFIG_FILE: _c, ...inherited } = process.env;
  return runCli(args, { ...inherited, HOME: await tempDir('chores-no-aws-') });
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
