import * as z from '../zod.js'; // zod/mini, with English messages: see shared/zod.ts
import { fragment, parsedBy } from '../config-fragment.js';
import { ConfigError } from '../errors.js';
import { parseTablePolicies, type TablePolicy } from './policies.js';

/** `config.tables`: tables-cleanup's policies (TABLE_RETENTION); archived rows go to RESULTS_ARCHIVE_URL. */
export interface TablesConfig {
  policies: TablePolicy[];
}

const TablesVariables = z.object({
  TABLE_RETENTION: parsedBy(z._default(z.string(), '[]'), (json) => parseTablePolicies(json)),
  // Read, not owned (shared/results/config.ts parses it): an archiving policy needs it set.
  RESULTS_ARCHIVE_URL: z.optional(z.string()),
});

export const tablesFragment = fragment(TablesVariables, (vars): TablesConfig => {
  const archived = vars.TABLE_RETENTION.find((policy) => policy.archive);
  if (archived && !vars.RESULTS_ARCHIVE_URL) {
    throw new ConfigError([
      `TABLE_RETENTION: policy "${archived.label}" archives, but RESULTS_ARCHIVE_URL is not set — set it (s3://bucket/prefix or file:///dir) or drop "archive"`,
    ]);
  }
  return { policies: vars.TABLE_RETENTION };
});
