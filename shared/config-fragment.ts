import * as z from './zod.js'; // zod/mini, with English messages: see shared/zod.ts
import { ConfigError } from './errors.js';

/** The environment as the fragments see it: blank variables already dropped. */
export type Env = Record<string, string>;

/**
 * One domain's part of the configuration: a zod schema that validates the variables the domain reads
 * and turns them into its typed slice of `Config`, in one pass. `shared/config.ts` composes them.
 */
export type ConfigFragment<Slice> = z.ZodMiniType<Slice>;

/**
 * A variable's schema, then one of our parsers run on its value inside zod, so the parser's problems
 * are collected with the rest. A `ConfigError`'s problems already name the variable
 * (`RESULTS_RULES[0]: …`) and are kept as they are; any other error's message is a plain reason,
 * named after the variable by `problemOf`.
 *
 * @example parsedBy(z._default(z.string(), '[]'), (json) => parseTablePolicies(json))
 */
export function parsedBy<Schema extends z.core.SomeType, Out>(schema: Schema, parse: (value: z.output<Schema>) => Out) {
  const run = (value: z.output<Schema>, ctx: z.core.ParsePayload): Out => {
    try {
      return parse(value);
    } catch (error) {
      addIssues(ctx, error);
      return z.NEVER;
    }
  };
  return z.pipe(schema, z.transform(run));
}

/**
 * A fragment: its variables, then `slice` building the domain's part of `Config` from them. `slice`
 * runs only when every variable is valid on its own; it throws `ConfigError` for what depends on
 * several of them (e.g. DATABASE_IAM_AUTH=true needs DATABASE_HOST).
 */
export function fragment<Shape extends z.core.$ZodShape, Slice>(
  variables: z.ZodMiniObject<Shape>,
  slice: (vars: z.output<z.ZodMiniObject<Shape>>) => Slice,
): ConfigFragment<Slice> {
  const build = (vars: z.output<z.ZodMiniObject<Shape>>, ctx: z.core.ParsePayload): Slice => {
    try {
      return slice(vars);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error; // a bug, not a configuration problem
      addIssues(ctx, error);
      return z.NEVER;
    }
  };
  return z.pipe(variables, z.transform(build));
}

/** One problem line, `VARIABLE: what is wrong`, from a zod issue. */
export function problemOf(issue: z.core.$ZodIssue): string {
  if (issue.code === 'custom' && issue.params?.named) return issue.message;
  return `${issue.path.join('.')}: ${issue.message}`;
}

/** A transform's problems, added to the issues zod reports (mini's transforms have no `ctx.addIssue`). */
function addIssues(ctx: z.core.ParsePayload, error: unknown): void {
  const input = ctx.value;
  if (error instanceof ConfigError) {
    for (const message of error.problems) ctx.issues.push({ code: 'custom', message, input, params: { named: true } });
  } else if (error instanceof Error) ctx.issues.push({ code: 'custom', message: error.message, input });
  else throw error;
}
