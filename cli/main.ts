import { Command, CommanderError } from 'commander';
import { registerAws } from './commands/aws.js';
import { registerDev } from './commands/dev.js';
import { registerDoctor } from './commands/doctor.js';
import { registerEndpoints } from './commands/endpoints.js';
import { registerOutbox } from './commands/outbox.js';
import { registerOutboxOps } from './commands/outbox-ops.js';
import { registerMigrate } from './commands/migrate.js';
import { registerResults } from './commands/results.js';
import { registerRun } from './commands/run.js';
import { registerStatus } from './commands/status.js';

// Locally there is no CloudWatch to read EMF, and Powertools' JSON logs would bury the human
// output; `--verbose` brings the logs back. Lambda runs nodejs22.x, so the SDK's Node 20 notice
// only concerns this machine. Each is the library's own documented switch.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
if (!process.argv.includes('--verbose')) process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';

const program = new Command('chores')
  .description('the maintenance plane of a Postgres-backed app')
  .option('--verbose', 'show structured logs from the handlers')
  .showHelpAfterError()
  .exitOverride();

registerDev(program);
registerMigrate(program);
registerRun(program);
registerStatus(program);
registerResults(program);
registerOutbox(program);
registerEndpoints(program);
registerOutboxOps(program);
registerDoctor(program);
registerAws(program);

try {
  await program.parseAsync();
  process.exit(process.exitCode ?? 0);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  // One line, naming what went wrong; the stack only with --verbose.
  const message = error instanceof Error ? error.message : String(error);
  console.error(`chores: ${message.split('\n')[0]}`);
  if (process.argv.includes('--verbose') && error instanceof Error) console.error(error.stack);
  process.exit(1);
}
