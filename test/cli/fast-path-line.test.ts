import { describe, expect, it } from 'vitest';
import { fastPathLine } from '../../cli/commands/outbox-ops.js';

// `chores outbox replay` printed "them sent in-process (local fast path)", `outbox publish` "it dispatched to …".
describe('the line the CLI prints after handing events to the fast path', () => {
  it('reads as a sentence for each way the events went, with the pronoun as its object', () => {
    const inProcess = fastPathLine({ how: 'in-process' }, 'them');
    const sqs = fastPathLine({ how: 'sqs' }, 'it');
    const sqsFailed = fastPathLine({ how: 'sqs', error: 'AccessDenied' }, 'them');
    const sweep = fastPathLine({ how: 'next-sweep' }, 'them');

    expect(inProcess).toBe('sent them in-process (local fast path)');
    expect(sqs).toBe('dispatched it to the SQS fast path');
    expect(sqsFailed).toBe('fast path failed (AccessDenied); the next sweep delivers them');
    expect(sweep).toBe('no OUTBOX_DISPATCH_QUEUE_URL: the next sweep (within a minute) delivers them');
  });
});
