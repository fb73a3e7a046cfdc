/** Statements too brief to be worth a subsegment: they open a transaction or set a local. */
export const UNTRACED_STATEMENT = /^\s*(?:BEGIN|START\s+TRANSACTION|SET\s|SAVEPOINT|RELEASE)\b/i;

const TABLE = /\b(?:FROM|INTO|UPDATE|TABLE)\s+((?:"[^"]+"|[\w$]+)(?:\.(?:"[^"]+"|[\w$]+))?)/i;
const FUNCTION_CALL = /^\s*SELECT\s+([\w$.]+)\s*\(/i;

/**
 * A statement's trace label: its verb and the first table it names (`DELETE task_results`,
 * `WITH outbox_deliveries`), or the function it calls (`SELECT pg_try_advisory_lock`). Built from
 * the SQL text only: values travel as `$n` parameters, so none can reach a trace.
 *
 * @example statementLabel('DELETE FROM "chores"."task_results" WHERE …') // 'DELETE task_results'
 */
export function statementLabel(text: string): string {
  const verb = (/^\s*(\w+)/.exec(text)?.[1] ?? 'SQL').toUpperCase();
  const table = TABLE.exec(text)?.[1];
  if (table) return `${verb} ${table.split('.').at(-1)!.replaceAll('"', '')}`;
  const called = FUNCTION_CALL.exec(text)?.[1];
  return called ? `${verb} ${called}` : verb;
}
