import { describe, expect, it } from 'vitest';
import { formatStats } from '../../cli/output.js';

describe('human output of a run', () => {
  it('prints the per-table figures of tables-cleanup as key=value pairs, not [object Object]', () => {
    // Arrange: the shape tables-cleanup returns, a map of tables to their sizes.
    const stats = {
      job: 'tables-cleanup',
      deleted: 5,
      byPolicy: { 'debug-audit': 5 },
      tables: { 'public.audit_log': { bytes: 32768, deadTuples: 0, liveTuples: 10 } },
      durationMs: 76,
    };

    // Act
    const text = formatStats(stats);

    // Assert
    expect(text).not.toContain('[object Object]');
    expect(text).toContain('    public.audit_log  bytes=32768 deadTuples=0 liveTuples=10');
    expect(text).toContain('    debug-audit  5');
  });

  it("prints outbox-deliver's answer to an SQS batch as it is, not 'undefined finished in undefined ms'", () => {
    // Arrange: what the function returns to `chores invoke outbox-deliver --payload "$(cat events/outbox-deliver.sqs.json)"`.
    const answer = { batchItemFailures: [{ itemIdentifier: '19dd0b57-b21e-4ac1-bd88-01bbb068cb78' }] };

    // Act
    const text = formatStats(answer);

    // Assert
    expect(text).not.toContain('undefined');
    expect(JSON.parse(text)).toEqual(answer);
  });
});
