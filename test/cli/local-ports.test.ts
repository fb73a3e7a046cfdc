import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

/** The CLI on the embedded database (no DATABASE_URL), its home in a temp dir. */
async function chores(args: string[], env: Record<string, string>) {
  const { DATABASE_URL: _, ...inherited } = process.env;
  return runCli(args, { ...inherited, ...env });
}

// Each command is a fresh Node process: a few seconds apiece on a loaded machine.
const SLOW = 60_000;

describe("the CLI's port variables", () => {
  it(
    'refuse a port that is not one, naming the variable, before starting anything',
    async () => {
      const home = await tempDir('chores-ports-');

      const pg = await chores(['status'], { CHORES_HOME: home, CHORES_LOCAL_PG_PORT: 'abc' });
      const receiver = await chores(['dev', '--once'], { CHORES_HOME: home, CHORES_DEV_RECEIVER_PORT: '70000' });

      expect(pg).toMatchObject({ code: 1, stdout: '' });
      expect(pg.stderr.trim()).toBe(
        'chores: invalid configuration: CHORES_LOCAL_PG_PORT: "abc" is not a port — give a whole number from 1 to 65535',
      );
      expect(receiver).toMatchObject({ code: 1, stdout: '' });
      expect(receiver.stderr.trim()).toBe(
        'chores: invalid configuration: CHORES_DEV_RECEIVER_PORT: "70000" is not a port — give a whole number from 0 to 65535',
      );
      // Refused before the embedded database was created.
      expect(await readdir(home)).toEqual([]);
    },
    SLOW,
  );
});
