import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../shared/errors.js';
import { globToLike, parseKeep, parseRules } from '../../shared/results/rules.js';

function problemsOf(json: string): string[] {
  try {
    parseRules(json);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected parseRules to throw');
}

describe('retention rules', () => {
  it('parses durations in every unit and never', () => {
    expect(parseKeep('0s')).toBe(0);
    expect(parseKeep('90m')).toBe(90 * 60_000);
    expect(parseKeep('36h')).toBe(36 * 3_600_000);
    expect(parseKeep('7d')).toBe(7 * 86_400_000);
    expect(parseKeep('2w')).toBe(14 * 86_400_000);
    expect(parseKeep('never')).toBeNull();
  });

  it('turns globs into escaped LIKE patterns', () => {
    expect(globToLike('audit.*')).toBe('audit.%');
    expect(globToLike('jobs_a?')).toBe('jobs\\_a_');
  });

  it('names the rule and the bad duration', () => {
    const [problem] = problemsOf('[{"keep":"7d"},{"status":"FAILURE","keep":"7x"}]');
    expect(problem).toContain('RESULTS_RULES[1]');
    expect(problem).toContain('"status":"FAILURE"');
    expect(problem).toContain('bad duration "7x"');
  });

  it('names an unknown key', () => {
    const [problem] = problemsOf('[{"task":"a.*","keeep":"1d","keep":"1d"}]');
    expect(problem).toContain('RESULTS_RULES[0]');
    expect(problem).toContain('unknown key "keeep"');
  });

  it('refuses a glob with characters that are not task-name characters or * and ?', () => {
    const [problem] = problemsOf('[{"task":"audit.[ab]","keep":"1d"}]');
    expect(problem).toContain('bad task glob "audit.[ab]"');
  });

  it('refuses an unknown status, a non-array and invalid JSON', () => {
    expect(problemsOf('[{"status":"DONE","keep":"1d"}]')[0]).toContain('status');
    expect(problemsOf('{"keep":"1d"}')[0]).toContain('expected a JSON array');
    expect(problemsOf('[{"keep":')[0]).toContain('not valid JSON');
  });

  it('refuses two rules whose labels would collide in byRule', () => {
    expect(problemsOf('[{"keep":"1d"},{"keep":"1d"}]')[0]).toContain('share the label "keep=1d"');
  });

  it('reports every bad rule at once', () => {
    expect(problemsOf('[{"keep":"x"},{"keep":"y"}]')).toHaveLength(2);
  });
});
