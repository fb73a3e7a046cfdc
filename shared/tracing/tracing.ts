import type { Tracing } from './port.js';

export type { SpanFacts, Tracing } from './port.js';

export const noTracing: Tracing = {
  active: false,
  span: (_name, work) => work(),
  awsClient: (client) => client,
  middlewares: () => [],
};

/**
 * Whether this process is a Lambda (`AWS_EXECUTION_ENV`, the Tracer's own test) with an X-Ray daemon
 * to send to: Lambda sets the daemon's address in every function, and the stack turns active tracing
 * on for all of ours. As with Powertools itself, `POWERTOOLS_TRACE_ENABLED=false` turns tracing off,
 * and the Tracer is then never loaded.
 */
export function tracingWanted(env: Record<string, string | undefined>): boolean {
  return Boolean(env.AWS_XRAY_DAEMON_ADDRESS && env.AWS_EXECUTION_ENV) && env.POWERTOOLS_TRACE_ENABLED?.toLowerCase() !== 'false';
}

/**
 * The tracing a Lambda process should use. The Tracer and the X-Ray SDK it brings (~100 KiB, a
 * quarter of a bundle) are an on-demand chunk: only a traced Lambda loads them, never a local run, a
 * test without a daemon address, or the CLI. Every deployed function does load it, on its first
 * invocation, so the bundle test and benchmark count it as loaded at init.
 *
 * Not the public Powertools layer with `@aws-lambda-powertools/*` external: Lambda's Node runtimes
 * resolve ESM imports from the layer's `/opt/nodejs/node_modules` (through NODE_PATH, which plain Node
 * ignores for ESM), but init would load the same code, unminified, so it saves nothing at cold start;
 * it would run a Tracer version the tests did not, and the bundle test could not load it as Lambda does.
 */
export async function loadTracing(env: Record<string, string | undefined>): Promise<Tracing> {
  if (!tracingWanted(env)) return noTracing;
  const { xrayTracing } = await import('./xray.js');
  return xrayTracing();
}
