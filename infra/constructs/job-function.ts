import { join } from 'node:path';
import type { Duration } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../../shared/runtime/metrics.js';
import { bundling } from '../bundling.js';
import type { Database } from './database.js';

export const PROJECT_ROOT = join(import.meta.dirname, '..', '..');

/** The esbuild settings of `npm run build` (infra/bundling.ts), as NodejsFunction takes them. */
export function nodejsBundling(extra: Partial<nodejs.BundlingOptions> = {}): nodejs.BundlingOptions {
  return {
    minify: bundling.minify,
    sourceMap: bundling.sourcemap,
    target: bundling.target,
    format: nodejs.OutputFormat.ESM,
    mainFields: bundling.mainFields,
    externalModules: bundling.external,
    banner: bundling.banner.js,
    ...extra,
  };
}

export interface HandlerFunctionProps {
  functionName: string;
  /** File under functions/, without `.ts`. */
  entry: string;
  timeout: Duration;
  memoryMb: number;
  vpc: ec2.IVpc;
  subnets: ec2.SubnetSelection;
  database: Database;
  environment: Record<string, string>;
  bundling?: Partial<nodejs.BundlingOptions>;
}

/**
 * One of chores' Lambda functions: arm64 on nodejs22.x, the shared minified ESM bundle with
 * source maps, in the VPC as a database client, JSON logs kept a month, traced, Powertools configured.
 */
export class HandlerFunction extends nodejs.NodejsFunction {
  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
    super(scope, id, {
      functionName: props.functionName,
      entry: join(PROJECT_ROOT, 'functions', `${props.entry}.ts`),
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: props.timeout,
      memorySize: props.memoryMb,
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      securityGroups: [props.database.clientSecurityGroup],
      bundling: nodejsBundling(props.bundling),
      // Named after the function (so it carries the stage prefix) and kept a month.
      logGroup: new logs.LogGroup(scope, `${id}Logs`, {
        logGroupName: `/aws/lambda/${props.functionName}`,
        retention: logs.RetentionDays.ONE_MONTH,
      }),
      // Lambda's own lines (START, REPORT, errors) as JSON too, so one Logs Insights query reads them all.
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.INFO,
      // Active X-Ray: a segment per invocation (init, invoke, overhead) and the trace id the AWS SDK
      // forwards on every call, so an SQS message carries its producer's trace (see the README).
      tracing: lambda.Tracing.ACTIVE,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'chores',
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        ...props.environment,
      },
    });
    for (const [key, value] of Object.entries(props.database.connect(this))) this.addEnvironment(key, value);
  }
}
