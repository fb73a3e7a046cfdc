import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { ASYNC_RETRIES } from '../../infra/constructs/failed-runs.js';
import { stageConfig } from '../../infra/config.js';
import { jobNames, jobs, WEBHOOK_KEYS_SECRET_ENV, type JobDefinition } from '../../shared/jobs.js';
import { cdkContext, removeSynthesized, ROOT, synthesize } from './synth-stack.js';

// One synthesis of the default stage, shared by every test below; variants synthesize their own.
const { stack, template } = synthesize({ nag: true });
afterAll(removeSynthesized);

const resources = (type: string, from: Template = template) => Object.entries(from.findResources(type));
const functionOf = (job: string) => resources('AWS::Lambda::Function').find(([, r]) => r.Properties.FunctionName === `chores-${job}`)!;
const envOf = (job: string): Record<string, unknown> => functionOf(job)[1].Properties.Environment.Variables;
const infraOf = (job: (typeof jobNames)[number]) => (jobs[job] as JobDefinition).infra;
const queueId = (name: string) => resources('AWS::SQS::Queue').find(([, r]) => r.Properties.QueueName === name)![0];

describe('the CDK stack', () => {
  it('has one schedule per registry job, with its expression, timezone, window, retry policy and DLQ', () => {
    expect(resources('AWS::Scheduler::Schedule')).toHaveLength(jobNames.length);
    for (const job of jobNames) {
      template.hasResourceProperties('AWS::Scheduler::Schedule', {
        Name: job,
        GroupName: Match.anyValue(),
        ScheduleExpression: jobs[job].schedule,
        ScheduleExpressionTimezone: jobs[job].timezone,
        FlexibleTimeWindow:
          jobs[job].flexibleWindowMinutes > 0
            ? { Mode: 'FLEXIBLE', MaximumWindowInMinutes: jobs[job].flexibleWindowMinutes }
            : { Mode: 'OFF' },
        Target: Match.objectLike({
          Input: '{}',
          RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
          DeadLetterConfig: { Arn: Match.anyValue() },
        }),
      });
    }
  });

  it('leaves no function or schedule behind for a job that is not in the registry', () => {
    const { template: without } = synthesize({ jobs: jobNames.filter((job) => job !== 'uploads-notify') });

    expect(Object.values(without.findResources('AWS::Scheduler::Schedule')).map((r) => r.Properties.Name)).not.toContain('uploads-notify');
    expect(Object.values(without.findResources('AWS::Lambda::Function')).map((r) => r.Properties.FunctionName)).not.toContain(
      'chores-uploads-notify',
    );
  });

  it('builds every job function as arm64 nodejs22.x with Powertools, JSON logs, active tracing, the registry timeout and memory, and IAM database access', () => {
    for (const job of jobNames) {
      const [, fn] = functionOf(job);
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        Timeout: jobs[job].timeoutSeconds,
        MemorySize: jobs[job].memoryMb,
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: expect.objectContaining({ LogFormat: 'JSON', ApplicationLogLevel: 'INFO' }),
        Environment: {
          Variables: expect.objectContaining({
            POWERTOOLS_SERVICE_NAME: 'chores',
            POWERTOOLS_METRICS_NAMESPACE: 'Chores',
            DATABASE_IAM_AUTH: 'true',
          }),
        },
      });
      // The bundle maps its stack traces itself, lazily: Node's --enable-source-maps would read every
      // map on each cold start (shared/runtime/source-maps.ts).
      expect(fn.Properties.Environment.Variables).not.toHaveProperty('NODE_OPTIONS');
      template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: `/aws/lambda/chores-${job}`, RetentionInDays: 30 });
    }
  });

  it('wires each job from its registry entry: egress, dispatch queue, buckets and webhook keys only where the entry asks', () => {
    const consumers = resources('AWS::Lambda::EventSourceMapping').map(([, r]) => r.Properties.FunctionName.Ref);
    for (const job of jobNames) {
      const infra = infraOf(job);
      const subnets = JSON.stringify(functionOf(job)[1].Properties.VpcConfig.SubnetIds);
      expect(subnets).toMatch(infra.egress ? /egress/ : /isolated/);
      if (!infra.egress) expect(subnets).not.toMatch(/egress/);
      expect(consumers.includes(functionOf(job)[0])).toBe(infra.dispatchQueue === 'consume');
      expect('OUTBOX_DISPATCH_QUEUE_URL' in envOf(job)).toBe(infra.dispatchQueue === 'send');
      expect(WEBHOOK_KEYS_SECRET_ENV in envOf(job)).toBe(infra.webhookKeys === true);
      for (const env of ['RESULTS_ARCHIVE_URL', 'UPLOADS_STORAGE_URL'])
        expect(env in envOf(job)).toBe((infra.buckets ?? []).some((need) => need.env === env));
    }
  });

  it('names no job in infra/stack.ts: a new job is one registry entry', () => {
    const source = readFileSync(join(ROOT, 'infra/stack.ts'), 'utf8');

    for (const job of jobNames) expect(source).not.toContain(`'${job}'`);
  });

  it('feeds the consuming job from an encrypted queue with partial batch failures, a bounded concurrency and a DLQ', () => {
    const [consumer] = jobNames.filter((job) => infraOf(job).dispatchQueue === 'consume');
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: functionOf(consumer!)[0] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 5 },
      BatchSize: 10,
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'chores-dispatch',
      SqsManagedSseEnabled: true,
      VisibilityTimeout: jobs[consumer!].timeoutSeconds * 6,
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: 5 },
    });
  });

  it('sends every scheduled run that throws, after one retry, to the failed-runs queue, and alarms on its depth', () => {
    const configs = resources('AWS::Lambda::EventInvokeConfig').map(([, r]) => r.Properties);
    const failedRuns = queueId('chores-failed-runs');

    expect(ASYNC_RETRIES).toBe(1);
    for (const job of jobNames) {
      expect(configs).toContainEqual({
        FunctionName: { Ref: functionOf(job)[0] },
        Qualifier: '$LATEST',
        MaximumRetryAttempts: ASYNC_RETRIES,
        MaximumEventAgeInSeconds: 3600,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [failedRuns, 'Arn'] } } },
      });
    }
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'chores-failed-runs-not-empty',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [failedRuns, 'QueueName'] } }],
      Threshold: 0,
    });
  });

  it('keeps state: versioned archive, retained database secret and webhook keys, gp3 storage, a full engine version', () => {
    template.hasResourceProperties('AWS::RDS::DBInstance', {
      StorageEncrypted: true,
      StorageType: 'gp3',
      EngineVersion: Match.stringLikeRegexp('^17\\.\\d+$'),
      BackupRetentionPeriod: 7,
      DeletionProtection: true,
      PubliclyAccessible: false,
    });
    template.hasResourceProperties('AWS::RDS::DBProxy', {
      DBProxyName: 'chores-proxy',
      RequireTLS: true,
      Auth: [Match.objectLike({ IAMAuth: 'REQUIRED' })],
    });
    for (const name of ['chores/database', 'chores/webhook-secret-keys']) {
      template.hasResource('AWS::SecretsManager::Secret', {
        Properties: Match.objectLike({ Name: name }),
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
      });
    }
    template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 90 } })]) },
    });
  });

  it('imports an existing database by endpoint, secret and security group instead of creating one', () => {
    const { template: imported } = synthesize({
      chores: {
        database: {
          import: {
            instanceIdentifier: 'app-db',
            endpoint: 'app-db.abc.eu-west-1.rds.amazonaws.com',
            databaseName: 'app',
            secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-db-AbCdEf',
            username: 'app',
            securityGroupId: 'sg-0123',
          },
        },
      },
    });

    expect(Object.keys(imported.findResources('AWS::RDS::DBInstance'))).toHaveLength(0);
    imported.hasResourceProperties('AWS::RDS::DBProxy', {
      Auth: [Match.objectLike({ IAMAuth: 'REQUIRED', SecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-db-AbCdEf' })],
    });
    imported.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { GroupId: 'sg-0123', FromPort: 5432, ToPort: 5432 });
  });

  it("synthesizes the README's stage example: the imported VPC's endpoints on its route tables, each function in its subnets", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const example = JSON.parse(/Configure a stage with[\s\S]*?```json\n([\s\S]*?)\n```/.exec(readme)![1]!);

    const { template: imported } = synthesize({ chores: example });

    imported.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcId: 'vpc-0abc1234def567890',
      RouteTableIds: ['rtb-0bbbbbbbbbbbbbbb3', 'rtb-0bbbbbbbbbbbbbbb4'],
    });
    imported.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcId: 'vpc-0abc1234def567890',
      SubnetIds: ['subnet-0bbbbbbbbbbbbbbb3', 'subnet-0bbbbbbbbbbbbbbb4'],
    });
    const subnetsOf = (job: string) =>
      resources('AWS::Lambda::Function', imported).find(([, r]) => r.Properties.FunctionName === `chores-${job}`)![1].Properties.VpcConfig
        .SubnetIds;
    expect(subnetsOf('outbox-deliver')).toEqual(['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0aaaaaaaaaaaaaaa2']);
    expect(subnetsOf('results-cleanup')).toEqual(['subnet-0bbbbbbbbbbbbbbb3', 'subnet-0bbbbbbbbbbbbbbb4']);
  });

  it('blocks public access, requires TLS and encrypts every bucket; the archive ages into cheaper storage', () => {
    for (const [, bucket] of resources('AWS::S3::Bucket')) {
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(bucket.Properties.BucketEncryption).toBeDefined();
    }
    expect(resources('AWS::S3::BucketPolicy').every(([, p]) => JSON.stringify(p).includes('aws:SecureTransport'))).toBe(true);
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([Match.objectLike({ Transitions: Match.arrayWith([Match.objectLike({ StorageClass: 'GLACIER_IR' })]) })]),
      },
    });
  });

  it('scopes IAM to named resources: nothing but X-Ray is granted on "*", and nothing touches storage or the database by wildcard', () => {
    for (const [, policy] of resources('AWS::IAM::Policy')) {
      for (const statement of policy.Properties.PolicyDocument.Statement) {
        const actions: string[] = [statement.Action].flat();
        // X-Ray's two write actions support no resource-level permissions (acknowledged in infra/nag.ts).
        if (statement.Resource === '*')
          expect(actions.every((a) => ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'].includes(a))).toBe(true);
        if (
          actions.some((a) => a.startsWith('s3:') || a.startsWith('rds-db:') || a.startsWith('sqs:Send') || a.startsWith('secretsmanager:'))
        ) {
          expect(actions.every((a) => !a.includes('*'))).toBe(true);
        }
      }
    }
    // Active tracing's grant, which CDK adds to each function's role: the Tracer's subsegments need it.
    const tracingGrants = [...resources('AWS::IAM::Policy')].filter(([, policy]) =>
      policy.Properties.PolicyDocument.Statement.some(
        (s: { Action: unknown; Resource: unknown }) => [s.Action].flat().includes('xray:PutTraceSegments') && s.Resource === '*',
      ),
    );
    expect(tracingGrants.length).toBeGreaterThanOrEqual(jobNames.length);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'rds-db:connect', Resource: Match.anyValue() })]) },
    });
  });

  it('alarms on registry thresholds, Lambda errors, missed runs (missing data breaching) and every dead-letter queue', () => {
    const alarms = resources('AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    for (const job of jobNames) {
      expect(alarms).toContainEqual(
        expect.objectContaining({
          AlarmName: `chores-${job}-missed-run`,
          TreatMissingData: 'breaching',
          Dimensions: [
            { Name: 'Job', Value: job },
            { Name: 'service', Value: 'chores' },
          ],
        }),
      );
      expect(alarms).toContainEqual(expect.objectContaining({ AlarmName: `chores-${job}-errors` }));
      for (const rule of jobs[job].alarms) {
        const alarm = alarms.find((a) => a.AlarmName === `chores-${job}-${rule.stat}`);
        expect(alarm).toMatchObject({ Threshold: rule.above, EvaluationPeriods: rule.runs, TreatMissingData: 'notBreaching' });
        // Scheduled runs, and for the fast-path consumer the SQS batches as well (Trigger=sqs).
        const watched = JSON.stringify(alarm);
        expect(watched).toContain(`"${rule.stat}"`);
        expect(watched.includes('"Trigger"')).toBe(infraOf(job).dispatchQueue === 'consume');
      }
    }
    expect(alarms.map((a) => a.AlarmName)).toEqual(
      expect.arrayContaining(['chores-dispatch-dlq-not-empty', 'chores-schedules-dlq-not-empty', 'chores-failed-runs-not-empty']),
    );
    expect(alarms.every((a) => a.AlarmActions?.length === 1)).toBe(true);
  });

  it('encrypts the alarm topic with a rotated customer-managed key whose policy lets CloudWatch publish', () => {
    // biome-ignore lint/suspicious/noExplicitAny: a key policy is arbitrary CloudFormation JSON, walked by the assertions below
    const [[keyId, key]] = resources('AWS::KMS::Key') as [[string, { Properties: Record<string, any> }]];

    template.hasResourceProperties('AWS::SNS::Topic', { TopicName: 'chores-alarms', KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } });
    expect(key.Properties.EnableKeyRotation).toBe(true);
    expect(key.Properties.KeyPolicy.Statement).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      }),
    );
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/chores-alarms' });
  });

  it('draws a dashboard from the registry: each job’s runs, stats, duration and alarms, the fast path, and dead-letter depths', () => {
    const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(dashboard!.Properties.DashboardBody);

    expect(dashboard!.Properties.DashboardName).toBe('chores-operations');
    for (const job of jobNames) {
      for (const stat of ['durationMs', 'failed_runs', 'skipped_runs', ...infraOf(job).dashboard])
        expect(body).toMatch(new RegExp(`\\\\"${stat}\\\\",\\\\"Job\\\\",\\\\"${job}\\\\"`));
      expect(body).toContain(`${job}: alarms and heartbeat`);
    }
    expect(body).toContain('\\"Trigger\\",\\"sqs\\"');
    expect(body).toContain('ApproximateAgeOfOldestMessage');
    for (const queue of ['chores-schedules-dlq', 'chores-failed-runs', 'chores-dispatch-dlq']) expect(body).toContain(queue);
  });

  it('saves Logs Insights queries: failed runs, each job’s recent runs, failing deliveries by endpoint', () => {
    const queries = resources('AWS::Logs::QueryDefinition').map(([, q]) => q.Properties.Name);

    expect(queries.sort()).toEqual(
      ['chores/failed-runs', 'chores/failing-deliveries-by-endpoint', ...jobNames.map((job) => `chores/runs/${job}`)].sort(),
    );
  });

  it('runs migrations on deploy, before the job functions', () => {
    const [triggerId] = Object.keys(template.findResources('Custom::Trigger'));
    const functionIds = jobNames.map((job) => functionOf(job)[0]);

    expect(triggerId).toBeDefined();
    for (const id of functionIds) expect(template.toJSON().Resources[id].DependsOn ?? []).toContain(triggerId);
  });

  it('lets the migrate function read the webhook keys it seals plain-text secrets with, through an endpoint from its isolated subnets', () => {
    const [secretId] = Object.keys(
      template.findResources('AWS::SecretsManager::Secret', { Properties: { Name: 'chores/webhook-secret-keys' } }),
    );
    const migrate = functionOf('migrate');
    const policies = resources('AWS::IAM::Policy').filter(([, r]) =>
      r.Properties.Roles.some((role: { Ref: string }) => role.Ref === migrate[1].Properties.Role['Fn::GetAtt'][0]),
    );

    expect(migrate[1].Properties.Environment.Variables[WEBHOOK_KEYS_SECRET_ENV]).toEqual({ Ref: secretId });
    expect(JSON.stringify(policies)).toContain('secretsmanager:GetSecretValue');
    expect(JSON.stringify(policies)).toContain(secretId);
    const endpoints = resources('AWS::EC2::VPCEndpoint').map(([, r]) => r.Properties);
    expect(
      endpoints.filter((e) => JSON.stringify(e.ServiceName).includes('.secretsmanager') && e.VpcEndpointType === 'Interface'),
    ).toHaveLength(1);
  });

  it('outputs the dispatch queue, function names, buckets, schedule group, failed-runs queue, dashboard URL and webhook keys', () => {
    expect(Object.keys(template.findOutputs('*')).sort()).toEqual(
      [
        'AlarmTopic',
        'ArchiveBucket',
        'DashboardUrl',
        'DispatchQueueUrl',
        'FailedRunsQueueUrl',
        'FunctionNames',
        'ScheduleGroup',
        'UploadsBucket',
        'WebhookKeysSecretArn',
      ].sort(),
    );
    expect(JSON.stringify(template.findOutputs('DashboardUrl'))).toContain('#dashboards/dashboard/chores-operations');
  });

  it('sets every feature flag cdk init recommends today', async () => {
    const recommended = (await import('aws-cdk-lib/recommended-feature-flags.json', { with: { type: 'json' } })).default as Record<
      string,
      unknown
    >;

    for (const [flag, value] of Object.entries(recommended)) expect({ flag, value: cdkContext[flag] }).toEqual({ flag, value });
  });

  it('passes cdk-nag AwsSolutions with every acknowledgement in infra/nag.ts', () => {
    const annotations = Annotations.fromStack(stack);
    const findings = [
      ...annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-.*|CdkNagValidationFailure.*')),
      ...annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*|CdkNagValidationFailure.*')),
    ].map((f) => `${f.id}: ${String(f.entry.data).slice(0, 120)}`);

    expect(findings).toEqual([]);
  }, 90_000); // reading the annotations synthesizes the stack again, nag rules and all: 5–15 s on this machine
});

describe('stages', () => {
  // Properties that give a resource its physical name, unique in an account and region. A schedule's
  // `Name` is unique only within its group, which carries the prefix.
  const NAME_KEYS = [
    'Name',
    'FunctionName',
    'QueueName',
    'TopicName',
    'AlarmName',
    'DBProxyName',
    'LogGroupName',
    'DashboardName',
    'AliasName',
    'RoleName',
    'BucketName',
    'DBInstanceIdentifier',
  ];

  /** Every physical name a resource is given, literal strings only. */
  function namesOf(template: Template): string[] {
    return Object.values(template.toJSON().Resources as Record<string, { Type: string; Properties?: Record<string, unknown> }>).flatMap(
      ({ Type, Properties = {} }) =>
        Object.entries(Properties)
          .filter(
            ([key, value]) =>
              NAME_KEYS.includes(key) && typeof value === 'string' && !(Type === 'AWS::Scheduler::Schedule' && key === 'Name'),
          )
          .map(([key, value]) => `${Type}.${key}=${value as string}`),
    );
  }

  it('synthesize side by side with no colliding names, each name carrying its prefix', () => {
    const { template: stage2 } = synthesize({ chores: { prefix: 'stage2' } });
    const first = namesOf(template);
    const second = namesOf(stage2);

    expect(first.length).toBeGreaterThan(30);
    expect(second.filter((name) => first.includes(name))).toEqual([]);
    for (const name of second) expect(name.split('=')[1]).toContain('stage2');
  });

  it("passes a stage's environment to every function, over the defaults: Node's own source-map support can be turned on", () => {
    const { template: lean } = synthesize({
      chores: {
        environment: { NODE_OPTIONS: '--enable-source-maps', OUTBOX_REQUEST_TIMEOUT_MS: '5000', POWERTOOLS_SERVICE_NAME: 'billing' },
      },
    });

    for (const job of jobNames) {
      const variables = resources('AWS::Lambda::Function', lean).find(([, r]) => r.Properties.FunctionName === `chores-${job}`)![1]
        .Properties.Environment.Variables;
      expect(variables).toMatchObject({
        NODE_OPTIONS: '--enable-source-maps',
        OUTBOX_REQUEST_TIMEOUT_MS: '5000',
        POWERTOOLS_SERVICE_NAME: 'billing',
      });
    }
  });

  it("reads the `-c chores='{…}'` form (a JSON string) as it reads an object from cdk.json", () => {
    expect(stageConfig('{"prefix":"stage2","alarmEmail":"oncall@example.com"}')).toEqual(
      stageConfig({ prefix: 'stage2', alarmEmail: 'oncall@example.com' }),
    );
  });

  it('refuses a bad stage in one line naming what to fix', () => {
    // Said in words, not as the pattern zod would print.
    expect(() => stageConfig('{"prefix":"Stage 2"}')).toThrow(
      'invalid "chores" CDK context: prefix: must be 2 to 31 lower-case letters, digits or "-", starting with a letter',
    );
    expect(() => stageConfig('{"environment":{"results_rules":"[]"}}')).toThrow(
      /^invalid "chores" CDK context: environment\.results_rules: each key must be a variable name such as RESULTS_RULES$/,
    );
    expect(() => stageConfig("{prefix: 'stage2'}")).toThrow(
      /^invalid "chores" CDK context: not JSON .*; pass -c chores='\{"prefix":"stage2"\}'$/,
    );
  });
});
