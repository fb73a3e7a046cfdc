import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { jobs, type AlarmRule, type JobName } from '../../shared/jobs.js';
import { METRICS_NAMESPACE } from '../../shared/runtime/metrics.js';
import { nextRun, parseSchedule } from '../../shared/schedule/expression.js';

const DAY_S = 86_400;

/** The time between two runs of a job's schedule, in seconds. */
export function scheduleIntervalSeconds(job: JobName): number {
  const schedule = parseSchedule(jobs[job].schedule, jobs[job].timezone);
  const reference = new Date('2030-01-07T00:00:00Z');
  const first = nextRun(schedule, reference, reference);
  return (nextRun(schedule, first, reference).getTime() - first.getTime()) / 1000;
}

/**
 * Everything that should wake someone, to one SNS topic (email optional). The topic is encrypted
 * with a customer-managed key whose policy lets CloudWatch use it: with the AWS-managed
 * `alias/aws/sns` key, whose policy cannot be edited, every alarm action fails. The registry's
 * thresholds on each job's stats, each job's Lambda errors, a missed-run heartbeat per job (no
 * data is breaching: a schedule that stopped firing must alarm, which Celery beat never did), and
 * the depth of every dead-letter queue.
 */
export class Alarms extends Construct {
  readonly topic: sns.Topic;
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: { prefix: string; email?: string }) {
    super(scope, id);
    this.key = new kms.Key(this, 'TopicKey', {
      alias: `alias/${props.prefix}-alarms`,
      description: `${props.prefix}: encrypts the alarm topic; CloudWatch alarms publish with it`,
      enableKeyRotation: true,
    });
    // CloudWatch encrypts each notification it publishes; only alarms of this account may ask.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', { topicName: `${props.prefix}-alarms`, masterKey: this.key, enforceSSL: true });
    if (props.email) this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
  }

  /** `fastPath`: the job also runs from SQS, whose stats carry `Trigger=sqs` (see the handler factory). */
  forJob(prefix: string, job: JobName, fn: lambda.IFunction, fastPath = false): cloudwatch.Alarm[] {
    const interval = scheduleIntervalSeconds(job);
    // One run per period, so each datapoint is one run's stat (capped at CloudWatch's 1-day period).
    const runPeriod = Duration.seconds(Math.min(Math.max(interval, 60), DAY_S));
    const metric = (name: string, statistic: string, period: Duration, trigger?: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: name,
        dimensionsMap: { service: 'chores', Job: job, ...(trigger && { Trigger: trigger }) },
        statistic,
        period,
      });
    // Thresholds watch scheduled and fast-path runs alike; the heartbeat below, scheduled runs only.
    const statMetric = (name: string): cloudwatch.IMetric =>
      fastPath
        ? new cloudwatch.MathExpression({
            expression: 'MAX([scheduled, fast])',
            usingMetrics: { scheduled: metric(name, 'Maximum', runPeriod), fast: metric(name, 'Maximum', runPeriod, 'sqs') },
            label: name,
            period: runPeriod,
          })
        : metric(name, 'Maximum', runPeriod);

    const alarms = (jobs[job].alarms as AlarmRule[]).map(
      (rule) =>
        new cloudwatch.Alarm(this, `${job}-${rule.stat}`, {
          alarmName: `${prefix}-${job}-${rule.stat}`,
          alarmDescription: rule.why,
          // A rising rule watches the change between consecutive runs (metric math DIFF).
          metric: rule.rising
            ? new cloudwatch.MathExpression({
                expression: 'DIFF(m)',
                usingMetrics: { m: statMetric(rule.stat) },
                label: `${rule.stat} increase`,
                period: runPeriod,
              })
            : statMetric(rule.stat),
          threshold: rule.above,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: rule.runs,
          datapointsToAlarm: rule.runs,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
    );
    alarms.push(
      new cloudwatch.Alarm(this, `${job}-heartbeat`, {
        alarmName: `${prefix}-${job}-missed-run`,
        alarmDescription: `${job} has not recorded a run within twice its schedule (${jobs[job].schedule}): the schedule stopped firing or every run fails`,
        // Every run publishes durationMs; twice the interval tolerates Scheduler's flexible window.
        metric: metric('durationMs', 'SampleCount', Duration.seconds(Math.min(Math.max(2 * interval, 300), DAY_S))),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
      new cloudwatch.Alarm(this, `${job}-errors`, {
        alarmName: `${prefix}-${job}-errors`,
        alarmDescription: `${job} failed (see its log group and its FAILURE row in task_results)`,
        metric: fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    for (const alarm of alarms) alarm.addAlarmAction(new actions.SnsAction(this.topic));
    return alarms;
  }

  forDeadLetters(name: string, queue: sqs.IQueue): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, `${name}-depth`, {
      alarmName: `${name}-not-empty`,
      alarmDescription: `${name} holds messages that could not be processed: inspect them, fix the cause, redrive`,
      metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new actions.SnsAction(this.topic));
    return alarm;
  }
}
