import { App } from 'aws-cdk-lib';
import { StageConfigError, stageConfig } from './config.js';
import { ChoresStack } from './stack.js';

const app = new App();
let config: ReturnType<typeof stageConfig>;
try {
  config = stageConfig(app.node.tryGetContext('chores'));
} catch (error) {
  if (!(error instanceof StageConfigError)) throw error;
  // One line, not a stack trace: the message names the key to fix.
  console.error(error.message);
  process.exit(1);
}
new ChoresStack(app, app.node.tryGetContext('stackName') ?? 'Chores', {
  config,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
app.synth();
