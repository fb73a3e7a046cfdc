// A namespace import, not { z }: esbuild then keeps only the parts used (the { z } object pulls in
// every locale, ~450 KB of each Lambda bundle).
import * as z from 'zod';
import { ConfigError } from './errors.js';

/** The environment as the fragments see it: blank variables already dropped. */
export type Env = Record<string, string>;

/**
 * One domain's part of the configuration: a zod schema that validates the variables the domain reads
 * and turns them into its typed slice of `Config`, in one pass. `shared/config.ts` composes them.
 */
export type ConfigFragment<Slice> = z.ZodType<Slice>;

/**
 * Runs one of our parsers on a variable inside zod, so its problems are collected with the rest.
 * A `ConfigError`'s problems already name the variable (`RESULTS_RULES[0]: …`) and are kept as they
 * are; any other error's message is a plain reason, named after the variable by `problemOf`.
 */
export function parsedBy<In, Out>(parse: (value: In) => Out) {
  return (value: In, ctx: z.RefinementCtx): Out => {
    try {
      return parse(value);
    } catch (error) {
      for (const issue of issuesOf(error)) ctx.addIssue(issue);
      return z.NEVER;
    }
  };
}

/**
 * A fragment: its variables, then `slice` building the domain's part of `Config` from them. `slice`
 * runs only when every variable is valid on its own; it throws `ConfigError` for what depends on
 * several of them (e.g. DATABASE_IAM_AUTH=true needs DATABASE_HOST).
 */
export function fragment<Shape extends z.ZodRawShape, Slice>(
  variables: z.ZodObject<Shape>,
  slice: (vars: z.output<z.ZodObject<Shape>>) => Slice,
): ConfigFragment<Slice> {
  const build = (vars: z.output<z.ZodObject<Shape>>, ctx: z.RefinementCtx): Slice => {
    try {
      return slice(vars);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error; // a bug, not a configuration problem
      for (const issue of issuesOf(error)) ctx.addIssue(issue);
      return z.NEVER;
    }
  };
  return variables.transform(build);
}

/** One problem line, `VARIABLE: what is wrong`, from a zod issue. */
export function problemOf(issue: z.core.$ZodIssue): string {
  if (issue.code === 'custom' && issue.params?.named) return issue.message;
  return `${issue.path.join('.')}: ${issue.message}`;
}

function issuesOf(error: unknown): { code: 'custom'; message: string; params?: { named: true } }[] {
  if (error instanceof ConfigError) return error.problems.map((message) => ({ code: 'custom', message, params: { named: true } }));
  if (error instanceof Error) return [{ code: 'custom', message: error.message }];
  throw error;
}
