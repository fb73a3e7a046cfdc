import type { Command } from 'commander';
import { encryptSecrets } from '../../shared/outbox/encrypt-secrets.js';
import { addEndpoint, disableEndpointByHand, enableEndpoint, listEndpoints, rotateSecret } from '../../shared/outbox/endpoints.js';
import { parseTimeOrAgo } from '../../shared/duration.js';
import { ChoresError } from '../../shared/errors.js';
import { newSecretKey } from '../../shared/outbox/secrets.js';
import { printJson } from '../output.js';
import { withSession } from '../session.js';
import { printReplay, replayFromCli } from './outbox-ops.js';

function replaySince(text: string): Date {
  try {
    return parseTimeOrAgo(text);
  } catch (error) {
    throw new ChoresError(`--replay-since: ${(error as Error).message}`);
  }
}

export function registerEndpoints(program: Command): void {
  const endpoints = program.command('endpoints').description('webhook endpoints');
  endpoints
    .command('add')
    .description('register an endpoint; prints its signing secret once')
    .requiredOption('--url <url>', 'https URL to POST to')
    .option('--events <types>', 'comma-separated event types (default: all)')
    .option('--json', 'print as JSON')
    .action(async (options: { url: string; events?: string; json?: boolean }) => {
      const eventTypes =
        options.events
          ?.split(',')
          .map((t) => t.trim())
          .filter(Boolean) ?? [];
      const created = await withSession(({ db, config }) =>
        addEndpoint(db, config.schema, config.outbox, { url: options.url, eventTypes }),
      );
      if (options.json) return printJson(created);
      console.log(`endpoint ${created.id} added for ${eventTypes.length ? eventTypes.join(', ') : 'all events'}`);
      console.log(`signing secret (shown once, store it now): ${created.secret}`);
    });
  endpoints
    .command('list')
    .description('every endpoint and its state')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      const rows = await withSession(({ db, config }) => listEndpoints(db, config.schema));
      if (options.json) return printJson(rows);
      if (rows.length === 0) return console.log('no endpoints — add one with `chores endpoints add --url …`');
      for (const e of rows) {
        const state = e.is_active
          ? e.failing_since
            ? `failing since ${e.failing_since.toISOString()}`
            : 'active'
          : `disabled: ${e.disabled_reason}`;
        console.log(`${e.id.padStart(4)}  ${e.url}  [${e.event_types.join(',') || '*'}]  ${state}`);
      }
    });
  endpoints
    .command('disable')
    .argument('<id>', 'endpoint id')
    .option('--reason <text>', 'why, recorded on the endpoint', 'disabled by an operator')
    .option('--json', 'print as JSON')
    .description('stop delivering to an endpoint; its pending deliveries fail')
    .action(async (id: string, options: { reason: string; json?: boolean }) => {
      await withSession(({ db, config }) => disableEndpointByHand(db, config.schema, id, options.reason));
      if (options.json) printJson({ id, isActive: false, reason: options.reason });
      else console.log(`endpoint ${id} disabled`);
    });
  endpoints
    .command('enable')
    .argument('<id>', 'endpoint id')
    .option('--replay-since <time>', 'also replay its deliveries that failed for events since then (ISO 8601, or 24h / 7d ago)')
    .option('--json', 'print as JSON')
    .description('deliver to an endpoint again (new events only, unless --replay-since)')
    .action(async (id: string, options: { replaySince?: string; json?: boolean }) => {
      const since = options.replaySince === undefined ? undefined : replaySince(options.replaySince);
      const replayed = await withSession(async (session) => {
        await enableEndpoint(session.db, session.config.schema, id);
        return since ? replayFromCli(session, { endpointId: id, since, status: 'failed' }, false) : undefined;
      });
      if (options.json) return printJson({ id, isActive: true, ...(replayed && { replay: replayed }) });
      console.log(`endpoint ${id} enabled`);
      if (replayed) printReplay(replayed);
    });
  endpoints
    .command('encrypt-secrets')
    .description('encrypt plain-text secrets, and re-encrypt those under older keys, with the newest key in OUTBOX_SECRET_KEYS')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      // On the embedded database the session's schema step has just sealed every secret: its count is
      // this command's (sealing again found nothing left, and reported 0).
      const result = await withSession(
        async ({ db, config, sealed }) => sealed ?? encryptSecrets(db, config.schema, config.outbox.secretKeys),
      );
      if (options.json) return printJson(result);
      console.log(
        `${result.encrypted} plain-text and ${result.resealed} older-key endpoint secret(s) now encrypted under key "${result.keyId}"`,
      );
    });
  endpoints
    .command('new-secret-key')
    .description('print a new key entry for OUTBOX_SECRET_KEYS (put it first; keep the old ones until encrypt-secrets has run)')
    .option('--id <id>', 'key id (letters, digits, - and _)')
    .action((options: { id?: string }) => {
      console.log(newSecretKey(options.id));
    });
  endpoints
    .command('rotate-secret')
    .argument('<id>', 'endpoint id')
    .option('--json', 'print as JSON')
    .description('new signing secret; the old one keeps co-signing for 24 h')
    .action(async (id: string, options: { json?: boolean }) => {
      const { secret } = await withSession(({ db, config }) => rotateSecret(db, config.schema, config.outbox.secretKeys, id));
      if (options.json) return printJson({ id, secret });
      console.log(`new signing secret for endpoint ${id} (shown once): ${secret}`);
      console.log('both secrets sign every webhook for the next 24 h; switch the receiver over within that window');
    });
}
