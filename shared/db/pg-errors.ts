/** Postgres SQLSTATE codes we react to, by name (https://www.postgresql.org/docs/current/errcodes-appendix.html). */
export const PgErrorCode = {
  uniqueViolation: '23505',
  lockNotAvailable: '55P03',
  undefinedTable: '42P01',
  undefinedColumn: '42703',
  duplicateSchema: '42P06',
  queryCanceled: '57014',
  invalidTextRepresentation: '22P02',
  numericValueOutOfRange: '22003',
  untranslatableCharacter: '22P05',
} as const;

/** SQLSTATE classes: the first two characters of a code. */
export const PgErrorClass = {
  /** A value that does not fit its use: a failed cast, a number out of range. */
  dataException: '22',
  /** A statement Postgres refuses as written: syntax, an unknown column or function, a privilege. */
  syntaxOrAccessRule: '42',
} as const;

export function hasPgClass(error: unknown, errorClass: string): boolean {
  const { code } = (typeof error === 'object' && error !== null ? error : {}) as { code?: unknown };
  return typeof code === 'string' && code.length === 5 && code.startsWith(errorClass);
}

export function hasPgCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}
