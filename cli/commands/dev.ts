import { isAbsolute, relative } from 'node:path';
import type { Command } from 'commander';
import { firingAlarms } from '../../shared/alarms.js';
import { jobs, type JobName } from '../../shared/jobs.js';
import type { SQSEvent } from 'aws-lambda';
import { DEMO_RESULTS, demoSecret, seedDemoOnce } from '../demo.js';
import { cliSecretBox } from '../secret-keys.js';
import { startLocalQueue } from '../dev/fast-path.js';
import { startDemoReceiver } from '../dev/receiver.js';
import { LocalScheduler } from '../dev/scheduler.js';
import { isSkipped } from '../../shared/runtime/handler.js';
import { countsLine, printJson } from '../output.js';
import { LOCAL_DIR, portVariable } from '../local.js';
import { withSession } from '../session.js';

// Producers before their consumers: notices are published before the sweep delivers them, and
// expiring uploads are noticed before cleanup removes the expired ones.
const ONCE_ORDER: JobName[] = [
  'uploads-notify',
  'outbox-deliver',
  'uploads-cleanup',
  'results-cleanup',
  'outbox-cleanup',
  'tables-cleanup',
];
const RECEIVER_PORT = 54380;

// `.chores/` when it is the checkout's own, else where CHORES_HOME put it.
const shownDir = () => {
  const inside = relative(process.cwd(), LOCAL_DIR);
  return inside && !inside.startsWith('..') && !isAbsolute(inside) ? `${inside}/` : LOCAL_DIR;
};
const logLine = (line: string) => console.log(`${new Date().toISOString().slice(11, 19)}  ${line}`);

export function registerDev(program: Command): void {
  program
    .command('dev')
    .description(
      'the local stack: embedded Postgres, demo data, a signature-checking demo receiver, every job on its schedule, the fast path',
    )
    .option('--once', 'run each job once, in dependency order, and exit')
    .option('--json', "with --once: print only the runs' stats, as a JSON array")
    .action(async (options: { once?: boolean; json?: boolean }) => {
      // Checked before the database starts: 0 lets the system pick a free port.
      const receiverPort = portVariable(process.env, 'CHORES_DEV_RECEIVER_PORT', RECEIVER_PORT, 0);
      const quiet = Boolean(options.once && options.json);
      const log = quiet ? () => {} : logLine;
      const outcomes: unknown[] = [];
      const shutdown = shutdownSignal(log);
      const failures = await withSession(async ({ db, config, target, jobs: localJobs }) => {
        // The receiver learns its own URL when it listens (the port may be ephemeral).
        const secrets = cliSecretBox(config.outbox.secretKeys);
        const receiver = await startDemoReceiver(receiverPort, () => demoSecret(db, config.schema, receiver.url, secrets), log);
        log(
          target.local
            ? `embedded Postgres ready, data in ${shownDir()} (${target.url.replace(/:[^:@/]+@/, ':***@')})`
            : 'using DATABASE_URL',
        );
        log(`demo receiver listening on ${receiver.url}`);
        if (target.local && (await seedDemoOnce(db, config.schema, receiver.url, secrets))) {
          log(`seeded ${DEMO_RESULTS} task results, a demo endpoint, 3 events and 7 uploads`);
        }
        let failed = 0;
        const history = new Map<JobName, Record<string, unknown>[]>();
        const runJob = async (job: JobName) => {
          try {
            const stats = (await localJobs.invoke(job, {})) as Record<string, unknown>;
            outcomes.push(stats);
            log(`${job.padEnd(16)} ${summary(stats)}`);
            if (isSkipped(stats)) return;
            const runs = [stats, ...(history.get(job) ?? [])].slice(0, 10);
            history.set(job, runs);
            for (const alarm of firingAlarms(jobs[job].alarms, runs))
              log(`${''.padEnd(16)} ALARM ${alarm.stat} > ${alarm.above} for ${alarm.runs} run(s): ${alarm.why}`);
          } catch (error) {
            failed += 1;
            outcomes.push({ job, error: (error as Error).message });
            log(`${job.padEnd(16)} FAILED: ${(error as Error).message}`);
          }
        };

        try {
          for (const job of ONCE_ORDER) {
            if (shutdown.requested) break;
            await runJob(job);
          }
          if (options.once || shutdown.requested) return failed;

          const queue = startLocalQueue(db, config.schema, (event: SQSEvent) => localJobs.invoke('outbox-deliver', event), log);
          const scheduler = new LocalScheduler(runJob);
          for (const [job, at] of scheduler.plan())
            log(`${job.padEnd(16)} next at ${at.toISOString()} (${jobs[job].schedule} ${jobs[job].timezone})`);
          scheduler.start();
          log('running; publish with `npx chores outbox publish --type x` in another terminal. Ctrl-C stops.');
          await shutdown.promise;
          await scheduler.stop();
          await queue.stop();
          return failed;
        } finally {
          await receiver.close();
        }
      });
      if (quiet) printJson(outcomes);
      if (failures > 0) process.exitCode = 1;
    });
}

/**
 * Ctrl-C (or SIGTERM) asks for a clean stop: the running job finishes and records itself, then the
 * receiver, the database pool and the embedded Postgres close in order. A second Ctrl-C gives up
 * waiting; the embedded server is still stopped on the way out.
 */
function shutdownSignal(log: (line: string) => void): { readonly requested: boolean; promise: Promise<void> } {
  const state = { requested: false, promise: Promise.resolve() };
  state.promise = new Promise<void>((resolve) => {
    const onSignal = () => {
      if (state.requested) {
        console.error('chores: stopped without waiting for the running job');
        process.exit(130);
      }
      state.requested = true;
      log('stopping: waiting for the running job, then shutting down (Ctrl-C again to stop at once)');
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  return state;
}

function summary(stats: Record<string, unknown>): string {
  if (isSkipped(stats)) return `skipped: ${stats.reason}`;
  return `${countsLine(stats)}${stats.truncated ? ' TRUNCATED' : ''} (${stats.durationMs} ms)`;
}
