import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jobNames, jobs, type JobDefinition } from '../shared/jobs.js';

/**
 * Console test events, derived from the registry: for each job its settings with every default
 * spelled out (what a scheduled `{}` runs with, ready to edit), a dry run where the job has one,
 * and for a job fed by the dispatch queue an SQS batch as Lambda delivers it. `events/` holds them
 * as files; `node --import tsx infra/events.ts` rewrites them after a registry change, and a test
 * fails while they differ.
 */
export function consoleEvents(): Record<string, unknown> {
  const events: Record<string, unknown> = {};
  for (const job of jobNames) {
    const definition: JobDefinition = jobs[job];
    const defaults = definition.settings.parse({}) as Record<string, unknown>;
    events[`${job}.json`] = defaults;
    if ('dryRun' in defaults) events[`${job}.dry-run.json`] = { ...defaults, dryRun: true };
    if (definition.infra.dispatchQueue === 'consume') events[`${job}.sqs.json`] = sqsBatch({ eventIds: [1] });
  }
  return events;
}

/** An SQS batch of one dispatch message, shaped as Lambda's event source mapping delivers it. */
function sqsBatch(body: unknown) {
  return {
    Records: [
      {
        messageId: '19dd0b57-b21e-4ac1-bd88-01bbb068cb78',
        receiptHandle: 'console-test',
        body: JSON.stringify(body),
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: '1767225600000',
          SenderId: 'console-test',
          ApproximateFirstReceiveTimestamp: '1767225600000',
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:chores-dispatch',
        awsRegion: 'eu-west-1',
      },
    ],
  };
}

export const EVENTS_DIR = join(import.meta.dirname, '..', 'events');

/** The file's text: two-space JSON and a final newline, as an editor would leave it. */
export const eventText = (event: unknown) => `${JSON.stringify(event, null, 2)}\n`;

if (import.meta.url === `file://${process.argv[1]}`) {
  await mkdir(EVENTS_DIR, { recursive: true });
  for (const [file, event] of Object.entries(consoleEvents())) await writeFile(join(EVENTS_DIR, file), eventText(event));
  console.log(`wrote ${Object.keys(consoleEvents()).length} events to ${EVENTS_DIR}`);
}
