import { CfnOutput, Duration, Stack, TimeZone, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as triggers from 'aws-cdk-lib/triggers';
import type { Construct } from 'constructs';
import { deployNames } from '../shared/deploy-names.js';
import { jobNames, jobs, type JobName } from '../shared/jobs.js';
import type { StageConfig } from './config.js';
import { Alarms } from './constructs/alarms.js';
import { Database } from './constructs/database.js';
import { DispatchQueue } from './constructs/dispatch-queue.js';
import { HandlerFunction } from './constructs/job-function.js';
import { Network } from './constructs/network.js';
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
 * The whole maintenance plane: one function and one schedule per registry job, the dispatch queue
 * feeding outbox-deliver, Postgres behind RDS Proxy, the buckets, migrations on deploy, alarms.
 */
export class ChoresStack extends Stack {
  constructor(scope: Construct, id: string, props: ChoresStackProps) {
    super(scope, id, props);
    const { config } = props;
    const names = deployNames(config.prefix);
    const network = new Network(this, 'Network', config.vpc);
    const database = new Database(this, 'Database', network, config.database);
    const storage = new Storage(this, 'Storage', config.uploadsBucket);
    const alarms = new Alarms(this, 'Alarms', { prefix: config.prefix, ...(config.alarmEmail && { email: config.alarmEmail }) });

    const schedulesDlq = new sqs.Queue(this, 'SchedulesDeadLetters', {
      queueName: names.schedulesDlq,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    alarms.forDeadLetters(names.schedulesDlq, schedulesDlq);
    const group = new scheduler.ScheduleGroup(this, 'Schedules', { scheduleGroupName: names.scheduleGroup });

    const functions = new Map<JobName, HandlerFunction>();
    for (const job of props.jobs ?? jobNames) {
      const definition = jobs[job];
      const fn = new HandlerFunction(this, `Job-${job}`, {
        functionName: names.functionName(job),
        entry: job,
        timeout: Duration.seconds(definition.timeoutSeconds),
        memoryMb: definition.memoryMb,
        vpc: network.vpc,
        // Only the function that POSTs webhooks may reach the internet.
        subnets: job === 'outbox-deliver' ? network.egressSubnets : network.isolatedSubnets,
        database,
        environment: config.environment,
      });
      functions.set(job, fn);
      new scheduler.Schedule(this, `Schedule-${job}`, {
        scheduleName: names.scheduleName(job),
        scheduleGroup: group,
        description: definition.description,
        schedule: scheduler.ScheduleExpression.expression(definition.schedule, TimeZone.of(definition.timezone)),
        timeWindow: definition.flexibleWindowMinutes > 0 ? scheduler.TimeWindow.flexible(Duration.minutes(definition.flexibleWindowMinutes)) : scheduler.TimeWindow.off(),
        target: new targets.LambdaInvoke(fn, {
          input: scheduler.ScheduleTargetInput.fromObject({}),
          retryAttempts: SCHEDULE_RETRIES,
          maxEventAge: SCHEDULE_MAX_EVENT_AGE,
          deadLetterQueue: schedulesDlq,
        }),
      });
      alarms.forJob(config.prefix, job, fn, job === 'outbox-deliver');
    }

    // Each job's access, by name, and nothing more.
    const fnFor = (job: JobName) => functions.get(job);
    const resultsCleanup = fnFor('results-cleanup');
    if (resultsCleanup) {
      resultsCleanup.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [storage.archive.arnForObjects('results/*')] }));
      resultsCleanup.addEnvironment('RESULTS_ARCHIVE_URL', `s3://${storage.archive.bucketName}`);
    }
    const tablesCleanup = fnFor('tables-cleanup');
    if (tablesCleanup) {
      // Policies with "archive" write beside the results archive, under tables/ only.
      tablesCleanup.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [storage.archive.arnForObjects('tables/*')] }));
      tablesCleanup.addEnvironment('RESULTS_ARCHIVE_URL', `s3://${storage.archive.bucketName}`);
    }
    const uploadsCleanup = fnFor('uploads-cleanup');
    if (uploadsCleanup) {
      // HEAD needs GetObject, and ListBucket so that a missing key (and HeadBucket) answers 404, not 403.
      uploadsCleanup.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:DeleteObject'], resources: [storage.uploads.arnForObjects('*')] }));
      uploadsCleanup.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [storage.uploads.bucketArn] }));
      uploadsCleanup.addEnvironment('UPLOADS_STORAGE_URL', `s3://${storage.uploads.bucketName}`);
    }
    const outboxDeliver = fnFor('outbox-deliver');
    if (outboxDeliver) {
      const dispatch = new DispatchQueue(this, 'Dispatch', { names, consumer: outboxDeliver, consumerTimeout: Duration.seconds(jobs['outbox-deliver'].timeoutSeconds) });
      alarms.forDeadLetters(names.dispatchDlq, dispatch.deadLetters);
      const notify = fnFor('uploads-notify');
      if (notify) {
        dispatch.queue.grantSendMessages(notify);
        notify.addEnvironment('OUTBOX_DISPATCH_QUEUE_URL', dispatch.queue.queueUrl);
      }
      new CfnOutput(this, 'DispatchQueueUrl', { value: dispatch.queue.queueUrl, description: 'producers send {"eventIds": [...]} here after commit' });
    }

    const migrate = new HandlerFunction(this, 'Migrate', {
      functionName: `${config.prefix}-migrate`,
      entry: 'migrate',
      timeout: Duration.minutes(5),
      memoryMb: 256,
      vpc: network.vpc,
      subnets: network.isolatedSubnets,
      database,
      environment: config.environment,
      // The SQL files travel next to the bundle, where migrate() looks for them.
      bundling: { commandHooks: { beforeBundling: () => [], beforeInstall: () => [], afterBundling: (input, output) => [`cp -r ${input}/shared/db/migrations ${output}/migrations`] } },
    });
    new triggers.Trigger(this, 'MigrateOnDeploy', {
      handler: migrate,
      executeAfter: [database],
      executeBefore: [...functions.values()],
      executeOnHandlerChange: true,
      timeout: Duration.minutes(5),
    });

    new CfnOutput(this, 'ScheduleGroup', { value: group.scheduleGroupName });
    new CfnOutput(this, 'FunctionNames', { value: [...functions.values()].map((fn) => fn.functionName).join(',') });
    new CfnOutput(this, 'UploadsBucket', { value: storage.uploads.bucketName });
    new CfnOutput(this, 'ArchiveBucket', { value: storage.archive.bucketName });
    new CfnOutput(this, 'AlarmTopic', { value: alarms.topic.topicArn });
    acknowledgeNagFindings(this);
  }
}
