import { describe, expect, it } from 'vitest';
import { loadConfig } from '../shared/config.js';
import { ConfigError } from '../shared/errors.js';

describe('configuration', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://u:p@db/app' });

    expect(config.schema).toBe('chores');
    expect(config.results.rules.map((r) => r.label)).toEqual(['status=REVOKED keep=0s', 'keep=7d']);
    expect(config.results.archive).toBeUndefined();
  });

  it('names every variable that is missing or wrong, all at once', () => {
    expectProblems({ CHORES_SCHEMA: 'Bad-Name', RESULTS_ARCHIVE_URL: 'ftp://x' }, [/DATABASE_URL: is not set/]);
    expectProblems({ DATABASE_URL: 'postgres://x/y', CHORES_SCHEMA: 'Bad-Name', RESULTS_ARCHIVE_URL: 'ftp://x' }, [
      /CHORES_SCHEMA/,
      /RESULTS_ARCHIVE_URL/,
    ]);
  });

  it('reports a malformed value in one fragment together with the problems of the others', () => {
    expectProblems(
      { DATABASE_URL: 'mysql://x/y', OUTBOX_REQUEST_TIMEOUT_MS: '5', RESULTS_RULES: '[{"keep":"7y"}]', TABLE_RETENTION: '{' },
      [
        /DATABASE_URL: must start with postgres:\/\//,
        /OUTBOX_REQUEST_TIMEOUT_MS: /,
        /RESULTS_RULES\[0\].*bad duration "7y"/,
        /TABLE_RETENTION: not valid JSON/,
      ],
    );
  });

  it('connects with RDS IAM authentication when asked, naming what is missing', () => {
    const config = loadConfig({
      DATABASE_IAM_AUTH: 'true',
      DATABASE_HOST: 'proxy.example',
      DATABASE_NAME: 'app',
      DATABASE_USER: 'chores',
      AWS_REGION: 'eu-west-1',
    });

    expect(config.database).toEqual({
      kind: 'iam',
      host: 'proxy.example',
      port: 5432,
      database: 'app',
      user: 'chores',
      region: 'eu-west-1',
    });
    expectProblems({ DATABASE_IAM_AUTH: 'true', DATABASE_HOST: 'proxy.example' }, [
      /DATABASE_NAME: is not set — DATABASE_IAM_AUTH=true needs it/,
      /DATABASE_USER/,
    ]);
  });

  it("says in English what zod's own checks found wrong, as classic zod did (zod/mini loads no locale of its own)", () => {
    expectProblems({ DATABASE_URL: 'postgres://x/y', DATABASE_PORT: 'abc', OUTBOX_ENDPOINT_CONCURRENCY: '65' }, [
      /^DATABASE_PORT: Invalid input: expected number, received NaN$/m,
      /^OUTBOX_ENDPOINT_CONCURRENCY: Too big: expected number to be <=64$/m,
    ]);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://x/y', RESULTS_RULES: '', RESULTS_ARCHIVE_URL: '' }).results.archive).toBeUndefined();
  });
});

function expectProblems(env: Record<string, string>, expected: RegExp[]): void {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const text = (error as ConfigError).problems.join('\n');
    for (const pattern of expected) expect(text).toMatch(pattern);
    return;
  }
  throw new Error('expected loadConfig to throw');
}
