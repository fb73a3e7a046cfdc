import { createRequire } from 'node:module';
import { state as sdkNodeVersionWarning } from '@aws-sdk/core/client';
import { Command, CommanderError } from 'commander';

// Lambda runs nodejs22.x, so the SDK's Node 20 notice only concerns this machine. The SDK's own
// switch is this flag (which AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true sets), set here
// rather than through process.env. The handlers' logs and metrics are quietened by the runtime
// the CLI gives them (cli/run-job.ts).
sdkNodeVersionWarning.warningEmitted = true;

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const program = new Command('chores')
  .description('the maintenance plane of a Postgres-backed app')
  .version(version, '-V, --version', 'print the version of chores')
  .option('--verbose', 'show structured logs from the handlers')
  .showHelpAfterError()
  .exitOverride();

// Each command's module, loaded only when that command runs: a command pulls in what it needs
// (the AWS SDK, the Redis client …) and a short command should not pay for the rest.
type Registrar = (program: Command) => void;
// `outbox` and `endpoints` come together: the webhook operations add subcommands to both groups.
const loadWebhookCommands = async (): Promise<Registrar> => {
  const [{ registerOutbox }, { registerEndpoints }, { registerOutboxOps }] = await Promise.all([
    import('./commands/outbox.js'),
    import('./commands/endpoints.js'),
    import('./commands/outbox-ops.js'),
  ]);
  return (program) => {
    registerOutbox(program);
    registerEndpoints(program);
    registerOutboxOps(program);
  };
};
const commandModules: Record<string, () => Promise<Registrar>> = {
  dev: async () => (await import('./commands/dev.js')).registerDev,
  migrate: async () => (await import('./commands/migrate.js')).registerMigrate,
  run: async () => (await import('./commands/run.js')).registerRun,
  status: async () => (await import('./commands/status.js')).registerStatus,
  results: async () => (await import('./commands/results.js')).registerResults,
  tables: async () => (await import('./commands/tables.js')).registerTables,
  outbox: loadWebhookCommands,
  endpoints: loadWebhookCommands,
  doctor: async () => (await import('./commands/doctor.js')).registerDoctor,
  invoke: async () => (await import('./commands/aws.js')).registerAws,
  schedules: async () => (await import('./commands/aws.js')).registerAws,
};
// The first word that is not an option names the command; help and unknown words load them all.
const named = process.argv.slice(2).find((arg) => !arg.startsWith('-'));
const wanted = named && named in commandModules ? [commandModules[named]!] : [...new Set(Object.values(commandModules))];
for (const registrar of new Set(await Promise.all(wanted.map((load) => load())))) registrar(program);

try {
  await program.parseAsync();
  process.exit(process.exitCode ?? 0);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  // One line, naming what went wrong; the stack only with --verbose.
  const message = awsHint(error instanceof Error ? error.message : String(error));
  console.error(`chores: ${message.split('\n')[0]}`);
  if (process.argv.includes('--verbose') && error instanceof Error) console.error(error.stack);
  process.exit(1);
}

/** The AWS SDK's "Region is missing" names nothing to set (invoke, schedules, doctor --aws, s3:// archives). */
function awsHint(message: string): string {
  return message.replace(/(Error: )?Region is missing/, 'no AWS region: set AWS_REGION (or AWS_PROFILE, for a profile with a region)');
}
