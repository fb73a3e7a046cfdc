import type { Command } from 'commander';
import { ChoresError } from '../../shared/errors.js';
import { openStorage } from '../../shared/storage/open.js';
import { parseTablePolicies } from '../../shared/tables/policies.js';
import { restoreTable } from '../../shared/tables/restore.js';
import { parseStorageUrl } from '../../shared/storage/url.js';
import { printJson } from '../output.js';
import { withSession } from '../session.js';

export function registerTables(program: Command): void {
  const tables = program.command('tables').description('the tables tables-cleanup keeps (TABLE_RETENTION)');
  tables
    .command('restore')
    .description("put a table's archived rows back (idempotent on tables with a primary key or unique constraint)")
    .requiredOption('--table <schema.table>', 'the table whose archive to restore, e.g. public.audit_log')
    .option('--since <date>', 'only objects archived on or after this day (ISO 8601)')
    .option('--from <url>', 'archive to read (default: RESULTS_ARCHIVE_URL)')
    .option('--json', 'print the counts as JSON')
    .action(async (options: { table: string; since?: string; from?: string; json?: boolean }) => {
      const since = options.since === undefined ? undefined : new Date(options.since);
      if (since && Number.isNaN(since.getTime())) throw new ChoresError(`--since "${options.since}" is not a date — use e.g. 2026-11-01`);
      // Vetted as a policy's table would be: a plain schema.table, nothing else reaches SQL.
      const [target] = parseTablePolicies(JSON.stringify([{ table: options.table, timestampColumn: 'restored', keep: '0s' }]), '--table');
      const stats = await withSession(async ({ db, config }) => {
        const location = options.from ? parseStorageUrl(options.from, '--from') : config.results.archive;
        if (!location) throw new ChoresError('no archive to restore from — set RESULTS_ARCHIVE_URL or pass --from s3://bucket/prefix');
        return restoreTable({ db, schema: target!.schema, table: target!.table, archive: openStorage(location), ...(since && { since }) });
      });
      if (options.json) printJson(stats);
      else
        console.log(
          `restored ${stats.restored} of ${stats.matched} archived rows (${stats.alreadyPresent} already present) from ${stats.objectsRead} archive objects`,
        );
    });
}
