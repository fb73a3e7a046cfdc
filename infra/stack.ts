import { CfnOutput, Duration, RemovalPolicy, Stack, TimeZone, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as triggers from 'aws-cdk-lib/triggers';
import type { Construct } from 'constructs';
import { deployNames } from '../shared/deploy-names.js';
import { jobNames, jobs, WEBHOOK_KEYS_SECRET_ENV, type BucketNeed, type JobDefinition, type JobName } from '../shared/jobs.js';
import type { StageConfig } from './config.js';
import { Alarms } from './constructs/alarms.js';
import { OperationsDashboard, type DashboardJob } from './constructs/dashboard.js';
import { Database } from './constructs/database.js';
import { DispatchQueue } from './constructs/dispatch-queue.js';
import { FailedRuns } from './constructs/failed-runs.js';
import { HandlerFunction } from './constructs/job-function.js';
import { Network } from './constructs/network.js';
import { SavedQueries } from './constructs/queries.js';
import { Storage } from './constructs/storage.js';
import { acknowledgeNagFindings } from './nag.js';

// A scheduled invocation that fails to reach Lambda is retried twice within an hour, then parked
// in the schedules DLQ (and alarmed on): a run that cannot start is never silently lost.
const SCHEDULE_RETRIES = 2;
const SCHEDULE_MAX_EVENT_AGE = Duration.hours(1);

export interface ChoresStackProps extends StackProps {
  config: StageConfig;
  /** Defaults to every job in the registry; a job removed from it leaves nothing behind. */
  jobs?: JobName[];
}

/**
 * The whole maintenance plane, derived from the registry (`shared/jobs.ts`): one function and one
 * schedule per job, each given what its `infra` entry asks for (egress, the dispatch queue, buckets,
 * the webhook keys, environment) and nothing else; Postgres behind RDS Proxy; migrations on deploy;
 * failed runs kept; alarms, a dashboard and saved log queries. No job is named here.
 */
export class ChoresStack extends Stack {
  constructor(scope: Construct, id: string, props: ChoresStackProps) {
    super(scope, id, props);
    const { config } = props;
    const { prefix } = config;
    const names = deployNames(prefix);
    const selected = (props.jobs ?? jobNames).map((job) => ({ job, definition: jobs[job] as JobDefinition }));
    const network = new Network(this, 'Network', config.vpc);
    const database = new Database(this, 'Database', network, config.database, prefix);
    const storage = new Storage(this, 'Storage', config.uploadsBucket);
    const alarms = new Alarms(this, 'Alarms', { prefix, ...(config.alarmEmail && { email: config.alarmEmail }) });

    const schedulesDlq = new sqs.Queue(this, 'SchedulesDeadLetters', {
      queueName: names.schedulesDlq,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const failedRuns = new FailedRuns(this, 'FailedRuns', { queueName: names.failedRuns });
    const deadLetters = [
      { name: names.schedulesDlq, queue: schedulesDlq },
      { name: names.failedRuns, queue: failedRuns.queue },
    ];
    const group = new scheduler.ScheduleGroup(this, 'Schedules', { scheduleGroupName: names.scheduleGroup });

    // Generated once and kept: the key material that encrypts webhook secrets at rest. Functions get
    // its ARN, never its value, and read it with their role.
    const webhookKeys = selected.some(({ definition }) => definition.infra.webhookKeys)
      ? new secretsmanager.Secret(this, 'WebhookKeys', {
          secretName: `${prefix}/webhook-secret-keys`,
          description: `${prefix}: key material encrypting webhook endpoint secrets at rest`,
          generateSecretString: { passwordLength: 64, excludePunctuation: true },
          removalPolicy: RemovalPolicy.RETAIN,
        })
      : undefined;
    // An isolated function has no route to Secrets Manager but through an endpoint; the migrate
    // function (isolated) reads the keys whenever there are any, to seal plain-text secrets on deploy.
    if (webhookKeys) {
      network.vpc.addInterfaceEndpoint('SecretsManager', {
        service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
        subnets: network.isolatedSubnets,
        privateDnsEnabled: true,
      });
    }

    const functions: HandlerFunction[] = [];
    const dashboardJobs: DashboardJob[] = [];
    const logGroups = [];
    const senders: HandlerFunction[] = [];
    let consumer: { job: JobName; fn: HandlerFunction; definition: JobDefinition } | undefined;
    for (const { job, definition } of selected) {
      const fn = new HandlerFunction(this, `Job-${job}`, {
        functionName: names.functionName(job),
        entry: job,
        timeout: Duration.seconds(definition.timeoutSeconds),
        memoryMb: definition.memoryMb,
        vpc: network.vpc,
        // Only a job that calls the internet gets a NAT route.
        subnets: definition.infra.egress ? network.egressSubnets : network.isolatedSubnets,
        database,
        environment: { ...config.environment, ...definition.infra.environment },
      });
      functions.push(fn);
      for (const need of definition.infra.buckets ?? []) grantBucket(fn, need, storage);
      if (webhookKeys && definition.infra.webhookKeys) {
        webhookKeys.grantRead(fn);
        fn.addEnvironment(WEBHOOK_KEYS_SECRET_ENV, webhookKeys.secretArn);
      }
      if (definition.infra.dispatchQueue === 'consume') consumer = { job, fn, definition };
      if (definition.infra.dispatchQueue === 'send') senders.push(fn);
      failedRuns.watch(fn);
      new scheduler.Schedule(this, `Schedule-${job}`, {
        scheduleName: names.scheduleName(job),
        scheduleGroup: group,
        description: definition.description,
        schedule: scheduler.ScheduleExpression.expression(definition.schedule, TimeZone.of(definition.timezone)),
        timeWindow:
          definition.flexibleWindowMinutes > 0
            ? scheduler.TimeWindow.flexible(Duration.minutes(definition.flexibleWindowMinutes))
            : scheduler.TimeWindow.off(),
        target: new targets.LambdaInvoke(fn, {
          input: scheduler.ScheduleTargetInput.fromObject({}),
          retryAttempts: SCHEDULE_RETRIES,
          maxEventAge: SCHEDULE_MAX_EVENT_AGE,
          deadLetterQueue: schedulesDlq,
        }),
      });
      dashboardJobs.push({ job, alarms: alarms.forJob(prefix, job, fn, definition.infra.dispatchQueue === 'consume') });
      logGroups.push({ job, logGroup: fn.logGroup, delivers: definition.infra.dispatchQueue === 'consume' });
    }

    if (consumer) {
      const dispatch = new DispatchQueue(this, 'Dispatch', {
        names,
        consumer: consumer.fn,
        consumerTimeout: Duration.seconds(consumer.definition.timeoutSeconds),
      });
      deadLetters.push({ name: names.dispatchDlq, queue: dispatch.deadLetters });
      const row = dashboardJobs.find(({ job }) => job === consumer.job);
      if (row) row.fastPath = dispatch.queue;
      for (const sender of senders) {
        dispatch.queue.grantSendMessages(sender);
        sender.addEnvironment('OUTBOX_DISPATCH_QUEUE_URL', dispatch.queue.queueUrl);
      }
      new CfnOutput(this, 'DispatchQueueUrl', {
        value: dispatch.queue.queueUrl,
        description: 'producers send {"eventIds": [...]} here after commit',
      });
    }
    for (const { name, queue } of deadLetters) alarms.forDeadLetters(name, queue);

    const migrate = new HandlerFunction(this, 'Migrate', {
      functionName: `${prefix}-migrate`,
      // Its SQL files travel next to the bundle, where migrate() looks for them (infra/build.ts).
      entry: 'migrate',
      timeout: Duration.minutes(5),
      memoryMb: 256,
      vpc: network.vpc,
      subnets: network.isolatedSubnets,
      database,
      environment: config.environment,
    });
    if (webhookKeys) {
      webhookKeys.grantRead(migrate);
      migrate.addEnvironment(WEBHOOK_KEYS_SECRET_ENV, webhookKeys.secretArn);
    }
    new triggers.Trigger(this, 'MigrateOnDeploy', {
      handler: migrate,
      executeAfter: [database],
      executeBefore: functions,
      executeOnHandlerChange: true,
      timeout: Duration.minutes(5),
    });

    const dashboard = new OperationsDashboard(this, 'Operations', { dashboardName: names.dashboard, jobs: dashboardJobs, deadLetters });
    new SavedQueries(this, 'Queries', { prefix, logGroups });

    new CfnOutput(this, 'ScheduleGroup', { value: group.scheduleGroupName });
    new CfnOutput(this, 'FunctionNames', { value: functions.map((fn) => fn.functionName).join(',') });
    new CfnOutput(this, 'UploadsBucket', { value: storage.uploads.bucketName });
    new CfnOutput(this, 'ArchiveBucket', { value: storage.archive.bucketName });
    new CfnOutput(this, 'AlarmTopic', { value: alarms.topic.topicArn });
    new CfnOutput(this, 'FailedRunsQueueUrl', {
      value: failedRuns.queue.queueUrl,
      description: 'scheduled runs that threw: their payload and error',
    });
    new CfnOutput(this, 'DashboardUrl', { value: dashboard.url });
    if (webhookKeys)
      new CfnOutput(this, 'WebhookKeysSecretArn', {
        value: webhookKeys.secretArn,
        description: `give the CLI this as ${WEBHOOK_KEYS_SECRET_ENV}`,
      });
    acknowledgeNagFindings(this);
  }
}

/** The access a registry entry asks for on one bucket, and its `s3://` URL in the variable it names. */
function grantBucket(fn: HandlerFunction, need: BucketNeed, storage: Storage): void {
  if (need.bucket === 'archive') {
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [storage.archive.arnForObjects(`${need.prefix}*`)] }),
    );
    fn.addEnvironment(need.env, `s3://${storage.archive.bucketName}`);
    return;
  }
  // HEAD needs GetObject, and ListBucket so that a missing key (and HeadBucket) answers 404, not 403.
  fn.addToRolePolicy(
    new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:DeleteObject'], resources: [storage.uploads.arnForObjects('*')] }),
  );
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [storage.uploads.bucketArn] }));
  fn.addEnvironment(need.env, `s3://${storage.uploads.bucketName}`);
}
