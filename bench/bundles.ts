import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildHandlers } from '../infra/build.js';
import { benchDatabase, fmt, median, verdict } from './database.js';

// Cold starts vary with the machine's load: each bundle is started this many times, the median printed.
const COLD_RUNS = 7;
// What the functions ran with before their bundles mapped stack traces themselves: printed beside.
const EAGER_SOURCE_MAPS = '--enable-source-maps';
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

/**
 * Each Lambda bundle's size (what init loads: the entry and its static chunks, and the Tracer chunk
 * every deployed function loads since all run with active tracing; the other on-demand chunks
 * apart), and its cold import in a fresh Node process, median of COLD_RUNS processes: the entry
 * module (what Lambda's init phase loads) and the Tracer chunk (what the first invocation loads
 * before any work). The first invocation against Postgres is printed beside it, traced as in Lambda:
 * its subsegments go to a UDP socket standing in for the X-Ray daemon (counted, to show tracing ran).
 * Node's own start-up is not counted; Lambda's is its own. The verdict is on processes run as
 * deployed, with no NODE_OPTIONS: the bundle maps its stack traces itself, reading a map only when a
 * stack is printed (infra/shims/lazy-source-maps.ts). Processes with Node's --enable-source-maps,
 * which reads every map at import (what the functions ran with before), alternate with those.
 *
 * Lambda runs Node 22, where `navigator` is a global; on the Node 20 this may run on it is not, and
 * pg's Cloudflare check (`lib/stream.js`) then touches `Response`, which loads Node 20's bundled
 * undici (measured 20–85 ms) at import: something Lambda never does. On Node < 21 each process
 * defines `navigator` as Node 22 does before it starts the clock, and the output says so.
 */
export async function benchBundles(): Promise<void> {
  const bench = await benchDatabase('chores_bench_bundles');
  const outside = await mkdtemp(join(tmpdir(), 'chores-bench-bundles-'));
  await chmod(outside, 0o755);
  const daemon = createSocket('udp4');
  let datagrams = 0;
  daemon.on('message', () => datagrams++);
  await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
  const daemonAddress = `127.0.0.1:${(daemon.address() as AddressInfo).port}`;
  try {
    console.log(
      `\nLambda bundles: size at init, cold import (entry + Tracer chunk) and first call in a fresh traced process, median of ${COLD_RUNS}`,
    );
    const built = (await buildHandlers(outside)).filter((b) => b.job !== 'migrate');
    if (NODE_MAJOR < 21)
      console.log(`  (Node ${process.versions.node}: \`navigator\` defined as on Lambda's Node 22, see bench/bundles.ts)`);
    for (const { job, file, bytes, tracingBytes, tracingChunk, lazyBytes } of built) {
      const script = `
        if (${NODE_MAJOR} < 21) globalThis.navigator ??= { userAgent: 'Node.js/22' };
        const t0 = performance.now();
        const { handler } = await import(${JSON.stringify(file)});
        ${tracingChunk ? `await import(${JSON.stringify(tracingChunk)});` : ''}
        const loaded = performance.now();
        await handler({}, { functionName: 'bench', awsRequestId: 'r', getRemainingTimeInMillis: () => 60_000 });
        const total = performance.now() - t0;
        console.log(JSON.stringify({ load: loaded - t0, total }));
        // Let the X-Ray SDK's last datagrams leave (after the measurement).
        setTimeout(() => process.exit(0), 50);`;
      // Alternated process by process: as deployed, and with Node reading every map at import.
      const runs: { load: number; total: number }[] = [];
      const eager: { load: number; total: number }[] = [];
      const before = datagrams;
      for (let i = 0; i < COLD_RUNS; i++) {
        runs.push(await coldStart(script, outside, bench.url, daemonAddress, ''));
        eager.push(await coldStart(script, outside, bench.url, daemonAddress, EAGER_SOURCE_MAPS));
      }
      const load = median(runs.map((r) => r.load));
      const total = median(runs.map((r) => r.total));
      const atInit = bytes + tracingBytes;
      console.log(
        `  ${job.padEnd(16)} ${fmt(atInit / 1024).padStart(4)} KiB at init (${fmt(bytes / 1024)} untraced), +${fmt(lazyBytes / 1024).padStart(3)} on demand (< 400 KiB: ${verdict(atInit < 400 * 1024)})` +
          `   cold import ${fmt(load).padStart(3)} ms as deployed (< 100 ms: ${verdict(load < 100)}), ` +
          `${fmt(median(eager.map((r) => r.load))).padStart(3)} with ${EAGER_SOURCE_MAPS}; first call ${fmt(total - load)} ms; ` +
          `${fmt((datagrams - before) / (2 * COLD_RUNS))} subsegments/run`,
      );
    }
  } finally {
    daemon.close();
    await rm(outside, { recursive: true, force: true });
    await bench.close();
  }
}

async function coldStart(
  script: string,
  outside: string,
  url: string,
  daemonAddress: string,
  nodeOptions: string,
): Promise<{ load: number; total: number }> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    cwd: outside,
    env: {
      PATH: process.env.PATH!,
      DATABASE_URL: url,
      UPLOADS_STORAGE_URL: `file://${outside}/uploads`,
      // None as deployed; EAGER_SOURCE_MAPS has Node read each module's source map as it loads it.
      NODE_OPTIONS: nodeOptions,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
      // What Lambda sets in a function with active tracing (the trace header per invocation).
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_LAMBDA_FUNCTION_NAME: 'bench',
      LAMBDA_TASK_ROOT: outside,
      _HANDLER: 'index.handler',
      AWS_XRAY_DAEMON_ADDRESS: daemonAddress,
      AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
      _X_AMZN_TRACE_ID: 'Root=1-67890abc-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1',
    },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as { load: number; total: number };
}
