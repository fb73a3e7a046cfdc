import { App } from 'aws-cdk-lib';
import { stageConfig } from './config.js';
import { ChoresStack } from './stack.js';

const app = new App();
const config = stageConfig(app.node.tryGetContext('chores'));
new ChoresStack(app, app.node.tryGetContext('stackName') ?? 'Chores', {
  config,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
app.synth();
