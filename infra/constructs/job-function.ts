import { join } from 'node:path';
import { AssetHashType, type Duration } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../../shared/runtime/metrics.js';
import { bundleHandler } from '../build.js';
import type { Database } from './database.js';

export const PROJECT_ROOT = join(import.meta.dirname, '..', '..');

/**
 * The handler's directory as `npm run build` makes it (infra/build.ts: entry, chunks, source maps,
 * migrate's SQL), bundled locally by esbuild at synth. Not NodejsFunction: it writes one `--outfile`,
 * so it cannot split chunks. Hashed by output, so an unchanged bundle is not redeployed; the Docker
 * image is only CDK's required fallback, never used (local bundling always succeeds or throws).
 */
export function handlerCode(entry: string): lambda.Code {
  return lambda.Code.fromAsset(PROJECT_ROOT, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      image: lambda.Runtime.NODEJS_22_X.bundlingImage,
      // CDK caches staging by source path and bundling options (functions not included): naming the
      // entry here keeps each function's asset its own instead of the first one bundled.
      environment: { CHORES_HANDLER: entry },
      local: {
        tryBundle(outputDir) {
          bundleHandler(entry, outputDir, PROJECT_ROOT);
          return true;
        },
      },
    },
  });
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
}

/**
 * One of chores' Lambda functions: arm64 on nodejs22.x, the shared minified ESM bundle with
 * source maps, in the VPC as a database client, JSON logs kept a month, traced, Powertools configured.
 */
export class HandlerFunction extends lambda.Function {
  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
    super(scope, id, {
      functionName: props.functionName,
      code: handlerCode(props.entry),
      handler: 'index.handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: props.timeout,
      memorySize: props.memoryMb,
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      securityGroups: [props.database.clientSecurityGroup],
      // Named after the function (so it carries the stage prefix) and kept a month.
      logGroup: new logs.LogGroup(scope, `${id}Logs`, {
        logGroupName: `/aws/lambda/${props.functionName}`,
        retention: logs.RetentionDays.ONE_MONTH,
      }),
      // Lambda's own lines (START, REPORT, errors) as JSON too, so one Logs Insights query reads them all.
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.INFO,
      // Active X-Ray: a segment per invocation (init, invoke, overhead), under it the Powertools Tracer's
      // subsegments (the handler, each statement, webhook POST and AWS call: shared/tracing/), and the
      // trace header the SDK sends on every call, so an SQS message carries its producer's trace.
      tracing: lambda.Tracing.ACTIVE,
      environment: {
        POWERTOOLS_SERVICE_NAME: 'chores',
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        ...props.environment,
      },
    });
    for (const [key, value] of Object.entries(props.database.connect(this))) this.addEnvironment(key, value);
  }
}
