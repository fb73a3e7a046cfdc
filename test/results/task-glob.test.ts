import { describe, expect, it } from 'vitest';
import { globToLike, globToRegExp } from '../../shared/results/rules.js';
import { testDatabase } from '../helpers/db.js';

const { db } = await testDatabase();

const GLOBS = ['audit.*', 'jobs_a?', 'app.tasks.send', '*', '*.report', 'a?c', 'under_score.*', 'a-b/c:d*'];
const NAMES = [
  'audit.log',
  'audit.',
  'auditXlog',
  'jobs_ab',
  'jobsXab',
  'jobs_abc',
  'app.tasks.send',
  'appXtasks.send',
  'daily.report',
  'report',
  'abc',
  'a.c',
  'ac',
  'x%y',
  'xZy',
  'under_score.go',
  'underXscore.go',
  'a-b/c:d',
  'a-b/c:dee',
  '',
  'multi\nline',
];

describe('task globs', () => {
  it('match in process (the Redis store) exactly the names Postgres LIKE matches (the table stores)', async () => {
    const pairs = GLOBS.flatMap((glob) => NAMES.map((name) => ({ glob, name })));
    const { rows } = await db.query<{ matches: boolean }>(
      'SELECT name LIKE pattern AS matches FROM unnest($1::text[], $2::text[]) AS t(name, pattern)',
      [pairs.map((p) => p.name), pairs.map((p) => globToLike(p.glob))],
    );

    const inSql = pairs.filter((_, i) => rows[i]!.matches).map((p) => `${p.glob} ~ ${p.name}`);
    const inProcess = pairs.filter((p) => globToRegExp(p.glob).test(p.name)).map((p) => `${p.glob} ~ ${p.name}`);

    expect(inProcess).toEqual(inSql);
    expect(inSql).toContain('audit.* ~ audit.log'); // the comparison is not vacuous
    expect(inSql).not.toContain('audit.* ~ auditXlog');
  });

  it('treat only * and ? as wildcards: a dot or an underscore is literal', () => {
    expect(globToRegExp('a.c').test('abc')).toBe(false);
    expect(globToRegExp('under_score').test('underXscore')).toBe(false);
    expect(globToLike('under_score')).toBe('under\\_score');
  });

  it('refuse regex and shell syntax instead of guessing at it', () => {
    expect(() => globToRegExp('tasks.[ab]')).toThrow(/bad task glob "tasks.\[ab\]"/);
    expect(() => globToLike('{a,b}.*')).toThrow(/bad task glob/);
    expect(() => globToLike('x%y')).toThrow(/bad task glob/);
  });
});
