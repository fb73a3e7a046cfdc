import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { consoleEvents, eventText, EVENTS_DIR } from '../../infra/events.js';
import { jobNames } from '../../shared/jobs.js';
import { parseDispatchMessage } from '../../shared/outbox/dispatch.js';
import { parseSettings } from '../../shared/runtime/settings.js';
import { ROOT } from './synth-stack.js';

const files = (await readdir(EVENTS_DIR)).sort();
const read = async (file: string) => JSON.parse(await readFile(join(EVENTS_DIR, file), 'utf8')) as Record<string, unknown>;
const jobOf = (file: string) => jobNames.find((job) => file === `${job}.json` || file.startsWith(`${job}.`))!;

describe('console test events (events/)', () => {
  it('exist for every job and are exactly what the registry derives (regenerate: node --import tsx infra/events.ts)', async () => {
    const derived = consoleEvents();

    expect(files).toEqual(Object.keys(derived).sort());
    for (const job of jobNames) expect(files).toContain(`${job}.json`);
    for (const file of files) expect(await readFile(join(EVENTS_DIR, file), 'utf8')).toBe(eventText(derived[file]));
  });

  it.each(files.filter((file) => !file.endsWith('.sqs.json')))('%s parses against its job’s settings schema', async (file) => {
    const event = await read(file);

    expect(parseSettings(jobOf(file), event)).toEqual(event);
  });

  it.each(files.filter((file) => file.endsWith('.sqs.json')))(
    '%s is an SQS batch whose every body is a valid dispatch message',
    async (file) => {
      const event = (await read(file)) as { Records: { eventSource: string; body: string }[] };

      expect(event.Records.length).toBeGreaterThan(0);
      for (const record of event.Records) {
        expect(record.eventSource).toBe('aws:sqs');
        expect(parseDispatchMessage(record.body).length).toBeGreaterThan(0);
      }
    },
  );

  it('are each named in the README', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');

    for (const file of files) expect(readme).toContain(`events/${file}`);
  });
});
