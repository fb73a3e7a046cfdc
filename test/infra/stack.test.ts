import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Aspects } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { stageConfig } from '../../infra/config.js';
import { ChoresStack } from '../../infra/stack.js';
import { jobNames, jobs } from '../../shared/jobs.js';

const cdkJson = JSON.parse(readFileSync(join(import.meta.dirname, '../../cdk.json'), 'utf8')) as { context: Record<string, unknown> };

function synth(options: { jobs?: typeof jobNames; nag?: boolean; chores?: unknown } = {}) {
  const app = new App({ context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': ['**'] } });
  const stack = new ChoresStack(app, 'Chores', { config: stageConfig(options.chores ?? {}), ...(options.jobs && { jobs: options.jobs }) });
  if (options.nag) Aspects.of(stack).add(new AwsSolutionsChecks());
  return { stack, template: Template.fromStack(stack) };
}

const { stack, template } = synth({ nag: true });
const resources = (type: string) => Object.entries(template.findResources(type));
const functionOf = (job: string) => resources('AWS::Lambda::Function').find(([, r]) => r.Properties.FunctionName === `chores-${job}`)!;

describe('the CDK stack', () => {
  it('has one schedule per registry job, with its expression, timezone, window, retry policy and DLQ', () => {
    expect(resources('AWS::Scheduler::Schedule')).toHaveLength(jobNames.length);
    for (const job of jobNames) {
      template.hasResourceProperties('AWS::Scheduler::Schedule', {
        Name: job,
        GroupName: Match.anyValue(),
        ScheduleExpression: jobs[job].schedule,
        ScheduleExpressionTimezone: jobs[job].timezone,
        FlexibleTimeWindow: jobs[job].flexibleWindowMinutes > 0 ? { Mode: 'FLEXIBLE', MaximumWindowInMinutes: jobs[job].flexibleWindowMinutes } : { Mode: 'OFF' },
        Target: Match.objectLike({ Input: '{}', RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 }, DeadLetterConfig: { Arn: Match.anyValue() } }),
      });
    }
  });

  it('leaves no function or schedule behind for a job that is not in the registry', () => {
    const { template: without } = synth({ jobs: jobNames.filter((job) => job !== 'uploads-notify') });

    expect(Object.values(without.findResources('AWS::Scheduler::Schedule')).map((r) => r.Properties.Name)).not.toContain('uploads-notify');
    expect(Object.values(without.findResources('AWS::Lambda::Function')).map((r) => r.Properties.FunctionName)).not.toContain('chores-uploads-notify');
  });

  it('builds every job function as arm64 nodejs22.x with Powertools, the registry timeout and memory, and database access via IAM', () => {
    for (const job of jobNames) {
      const [, fn] = functionOf(job);
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        Timeout: jobs[job].timeoutSeconds,
        MemorySize: jobs[job].memoryMb,
        Environment: { Variables: expect.objectContaining({ POWERTOOLS_SERVICE_NAME: 'chores', POWERTOOLS_METRICS_NAMESPACE: 'Chores', DATABASE_IAM_AUTH: 'true', NODE_OPTIONS: '--enable-source-maps' }) },
      });
    }
  });

  it('gives internet egress to outbox-deliver only', () => {
    const subnetsOf = (job: string) => JSON.stringify(functionOf(job)[1].Properties.VpcConfig.SubnetIds);
    expect(subnetsOf('outbox-deliver')).toMatch(/egress/);
    for (const job of jobNames.filter((j) => j !== 'outbox-deliver')) {
      expect(subnetsOf(job)).toMatch(/isolated/);
      expect(subnetsOf(job)).not.toMatch(/egress/);
    }
  });

  it('feeds outbox-deliver from an encrypted queue with partial batch failures, a bounded concurrency and a DLQ', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: functionOf('outbox-deliver')[0] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 5 },
      BatchSize: 10,
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'chores-dispatch',
      SqsManagedSseEnabled: true,
      VisibilityTimeout: jobs['outbox-deliver'].timeoutSeconds * 6,
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: 5 },
    });
  });

  it('creates an encrypted, backed-up database in isolated subnets behind an IAM-auth, TLS-only proxy', () => {
    template.hasResourceProperties('AWS::RDS::DBInstance', { StorageEncrypted: true, BackupRetentionPeriod: 7, DeletionProtection: true, PubliclyAccessible: false });
    template.hasResourceProperties('AWS::RDS::DBProxy', { RequireTLS: true, Auth: [Match.objectLike({ IAMAuth: 'REQUIRED' })] });
  });

  it('imports an existing database by endpoint, secret and security group instead of creating one', () => {
    const { template: imported } = synth({
      chores: { database: { import: { instanceIdentifier: 'app-db', endpoint: 'app-db.abc.eu-west-1.rds.amazonaws.com', databaseName: 'app', secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-db-AbCdEf', username: 'app', securityGroupId: 'sg-0123' } } },
    });

    expect(Object.keys(imported.findResources('AWS::RDS::DBInstance'))).toHaveLength(0);
    imported.hasResourceProperties('AWS::RDS::DBProxy', { Auth: [Match.objectLike({ IAMAuth: 'REQUIRED', SecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-db-AbCdEf' })] });
    imported.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { GroupId: 'sg-0123', FromPort: 5432, ToPort: 5432 });
  });

  it('blocks public access, requires TLS and encrypts every bucket; the archive ages into cheaper storage', () => {
    for (const [, bucket] of resources('AWS::S3::Bucket')) {
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
      expect(bucket.Properties.BucketEncryption).toBeDefined();
    }
    expect(resources('AWS::S3::BucketPolicy').every(([, p]) => JSON.stringify(p).includes('aws:SecureTransport'))).toBe(true);
    template.hasResourceProperties('AWS::S3::Bucket', { LifecycleConfiguration: { Rules: [Match.objectLike({ Transitions: Match.arrayWith([Match.objectLike({ StorageClass: 'GLACIER_IR' })]) })] } });
  });

  it('scopes IAM to named resources: no function may touch storage or the database by wildcard', () => {
    for (const [, policy] of resources('AWS::IAM::Policy')) {
      for (const statement of policy.Properties.PolicyDocument.Statement) {
        const actions = [statement.Action].flat();
        if (actions.some((a: string) => a.startsWith('s3:') || a.startsWith('rds-db:') || a.startsWith('sqs:Send'))) {
          expect(statement.Resource).not.toBe('*');
          expect(actions.every((a: string) => !a.includes('*'))).toBe(true);
        }
      }
    }
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'rds-db:connect', Resource: Match.anyValue() })]) },
    });
  });

  it('alarms on registry thresholds, Lambda errors, missed runs (missing data breaching) and DLQ depth', () => {
    const alarms = resources('AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    for (const job of jobNames) {
      expect(alarms).toContainEqual(
        expect.objectContaining({ AlarmName: `chores-${job}-missed-run`, TreatMissingData: 'breaching', Dimensions: [{ Name: 'Job', Value: job }, { Name: 'service', Value: 'chores' }] }),
      );
      expect(alarms).toContainEqual(expect.objectContaining({ AlarmName: `chores-${job}-errors` }));
      for (const rule of jobs[job].alarms) {
        const alarm = alarms.find((a) => a.AlarmName === `chores-${job}-${rule.stat}`);
        expect(alarm).toMatchObject({ Threshold: rule.above, EvaluationPeriods: rule.runs, TreatMissingData: 'notBreaching' });
        // Scheduled runs, and for outbox-deliver the SQS fast path as well (Trigger=sqs).
        const watched = JSON.stringify(alarm);
        expect(watched).toContain(`"${rule.stat}"`);
        expect(watched.includes('"Trigger"')).toBe(job === 'outbox-deliver');
      }
    }
    expect(alarms.map((a) => a.AlarmName)).toEqual(expect.arrayContaining(['chores-dispatch-dlq-not-empty', 'chores-schedules-dlq-not-empty']));
    expect(alarms.every((a) => a.AlarmActions?.length === 1)).toBe(true);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
  });

  it('runs migrations on deploy, before the job functions', () => {
    const [triggerId] = Object.keys(template.findResources('Custom::Trigger'));
    const functionIds = resources('AWS::Lambda::Function').filter(([, r]) => String(r.Properties.FunctionName).startsWith('chores-') && r.Properties.FunctionName !== 'chores-migrate').map(([id]) => id);

    expect(triggerId).toBeDefined();
    for (const id of functionIds) expect(template.toJSON().Resources[id].DependsOn ?? []).toContain(triggerId);
  });

  it('outputs the dispatch queue URL, function names, buckets and schedule group', () => {
    expect(Object.keys(template.findOutputs('*')).sort()).toEqual(['AlarmTopic', 'ArchiveBucket', 'DispatchQueueUrl', 'FunctionNames', 'ScheduleGroup', 'UploadsBucket']);
  });

  it('passes cdk-nag AwsSolutions with every acknowledgement in infra/nag.ts', () => {
    const findings = [
      ...Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*|CdkNagValidationFailure.*')),
      ...Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*|CdkNagValidationFailure.*')),
    ].map((f) => `${f.id}: ${String(f.entry.data).slice(0, 120)}`);

    expect(findings).toEqual([]);
  });
});
