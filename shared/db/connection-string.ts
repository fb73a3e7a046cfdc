import pg from 'pg';

/** What to check in a URL that does not parse; said instead of a parser's bare "Invalid URL". */
export const URL_CREDENTIALS_HINT =
  'percent-encode special characters in the user and password (@ as %40, # as %23, / as %2F, : as %3A, ? as %3F) and give the port as a number';

/**
 * Why `url` is not a Postgres connection string pg can use, or undefined. pg's own parser decides
 * (a client is constructed, which parses but does not connect), so nothing pg accepts is refused;
 * the answer replaces its bare "Invalid URL" and never repeats the URL, which holds a password.
 */
export function connectionStringProblem(url: string): string | undefined {
  const hint = URL_CREDENTIALS_HINT;
  // pg would take everything after a "#" as a URL fragment and ignore it: a password containing
  // one silently becomes a wrong host name.
  if (url.includes('#')) return `has a "#", which ends a URL and cuts off the rest: ${hint}`;
  try {
    new pg.Client({ connectionString: url });
    return undefined;
  } catch {
    return `is not a valid URL — expected postgres://user:password@host:5432/database; ${hint}`;
  }
}
