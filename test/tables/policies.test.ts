import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config.js';
import { parseTablePolicies } from '../../shared/tables/policies.js';
import { wherePasteProblem } from '../../shared/tables/where.js';

describe('TABLE_RETENTION', () => {
  it('fills presets in and lets them take the same optional fields', () => {
    const [kombu, sessions] = parseTablePolicies(
      '[{"preset":"kombu","keep":"1d","naiveTimezone":"Europe/Berlin","archive":true},{"preset":"django-sessions","table":"web.django_session"}]',
    );

    expect(kombu).toEqual({
      label: 'kombu',
      preset: 'kombu',
      schema: 'public',
      table: 'kombu_message',
      timestampColumn: 'timestamp',
      keep: '1d',
      keepMs: 86_400_000,
      presetWhere: 'visible = false',
      naiveTimezone: 'Europe/Berlin',
      archive: true,
      queueTable: 'kombu_queue',
    });
    expect(sessions).toMatchObject({
      label: 'django-sessions',
      schema: 'web',
      table: 'django_session',
      timestampColumn: 'expire_date',
      keepMs: 0,
      naiveTimezone: 'UTC',
    });
  });

  it('keeps the kombu preset on consumed rows even when the operator adds a where', () => {
    const [policy] = parseTablePolicies(`[{"preset":"kombu","where":"queue_id = 3"}]`);

    expect(policy).toMatchObject({ presetWhere: 'visible = false', where: 'queue_id = 3' });
  });

  it('names each bad policy by position and label', () => {
    const bad = () =>
      parseTablePolicies(
        '[{"table":"a b","timestampColumn":"t","keep":"1d","label":"x"},{"table":"t","keep":"soon"},{"preset":"kombu","keep":"1d","naiveTimezone":"Mars/Olympus"},{"preset":"nope"}]',
      );

    expect(bad).toThrow(/TABLE_RETENTION\[0\] \("x"\): "table": "a b" is not a plain identifier/);
    expect(bad).toThrow(/TABLE_RETENTION\[1\]: "timestampColumn" is required/);
    expect(bad).toThrow(/TABLE_RETENTION\[2\]: "naiveTimezone": "Mars\/Olympus" is not an IANA time zone/);
    expect(bad).toThrow(/TABLE_RETENTION\[3\]: preset/);
  });

  it('refuses two policies with one label, and unknown fields', () => {
    expect(() => parseTablePolicies('[{"preset":"kombu"},{"preset":"kombu"}]')).toThrow(/two policies are labelled "kombu"/);
    expect(() => parseTablePolicies('[{"preset":"kombu","keeep":"1d"}]')).toThrow(/unknown field keeep/);
  });

  it('refuses an archiving policy when there is no archive to write to', () => {
    const env = { DATABASE_URL: 'postgres://localhost/app', TABLE_RETENTION: '[{"preset":"kombu","archive":true}]' };

    expect(() => loadConfig(env)).toThrow(/TABLE_RETENTION: policy "kombu" archives, but RESULTS_ARCHIVE_URL is not set/);
    expect(loadConfig({ ...env, RESULTS_ARCHIVE_URL: 'file:///tmp/archive' }).tables.policies).toHaveLength(1);
    expect(loadConfig({ DATABASE_URL: 'postgres://localhost/app' }).tables.policies).toEqual([]);
  });
});

describe('a where condition pasted into every DELETE', () => {
  it('refuses text that would escape its parentheses, comment out what follows, or add a statement', () => {
    expect(wherePasteProblem("kind = 'debug') OR (true")).toMatch(/closes a parenthesis/);
    expect(wherePasteProblem('true --')).toMatch(/comment/);
    expect(wherePasteProblem('true /* x')).toMatch(/comment/);
    expect(wherePasteProblem('true; DELETE FROM t')).toMatch(/";"/);
    expect(wherePasteProblem('(kind = 1')).toMatch(/not closed/);
    expect(wherePasteProblem("kind = 'x")).toMatch(/string literal is not closed/);
    expect(wherePasteProblem("kind = E'\\') OR (true'")).toBeUndefined();
    expect(wherePasteProblem("kind = E'\\'') OR (true")).toMatch(/closes a parenthesis/);
    expect(wherePasteProblem('id = $1')).toMatch(/"\$"/);
  });

  it('accepts conditions whose brackets, quotes and dashes sit inside literals or identifiers', () => {
    expect(wherePasteProblem("kind IN ('a)', 'b--c', 'it''s; fine') AND (\"odd)name\" IS NULL OR payload->>'x' = '/*')")).toBeUndefined();
    expect(wherePasteProblem('NOT EXISTS (SELECT 1 FROM users u WHERE u.id = user_id)')).toBeUndefined();
  });
});
