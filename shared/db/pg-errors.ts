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

export function hasPgCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}
