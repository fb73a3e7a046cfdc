import { Aws, Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { jobs, type JobDefinition, type JobName } from '../../shared/jobs.js';
import { METRICS_NAMESPACE } from '../../shared/runtime/metrics.js';

const PERIOD = Duration.minutes(5);
const WIDE = 12;
const NARROW = 6;

/** A chores EMF metric of one job (the handler factory publishes them under `service`, `Job`). */
function jobMetric(job: string, name: string, statistic: string, trigger?: string): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: { service: 'chores', Job: job, ...(trigger && { Trigger: trigger }) },
    statistic,
    period: PERIOD,
    label: trigger ? `${name} (${trigger})` : name,
  });
}

// Backlogs are levels, everything else is a count per run: sum the counts, take the peak of a level.
const statisticOf = (stat: string) => (stat === 'remaining' || stat.endsWith('Ms') ? 'Maximum' : 'Sum');

export interface DashboardJob {
  job: JobName;
  /** The job's alarms (thresholds, errors, the missed-run heartbeat), shown as its status. */
  alarms: cloudwatch.IAlarm[];
  /** The queue feeding its fast path, when the registry says it consumes one. */
  fastPath?: sqs.IQueue;
}

/**
 * The operator's view, generated from the registry: a row per job (runs, failures and skips; each
 * stat the registry lists for it; duration; its alarms, heartbeat included), the fast path of any job
 * that consumes the dispatch queue (deliveries, retries, failures, batch latency, queue age), and the
 * depth of every dead-letter queue.
 */
export class OperationsDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  /** The console address of the dashboard (a stack output). */
  readonly url: string;

  constructor(
    scope: Construct,
    id: string,
    props: { dashboardName: string; jobs: DashboardJob[]; deadLetters: { name: string; queue: sqs.IQueue }[] },
  ) {
    super(scope, id);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: props.dashboardName, defaultInterval: Duration.days(1) });
    for (const { job, alarms, fastPath } of props.jobs) {
      const definition: JobDefinition = jobs[job];
      this.dashboard.addWidgets(
        new cloudwatch.TextWidget({ markdown: `### ${job} · \`${definition.schedule}\`\n${definition.description}`, width: 24, height: 2 }),
      );
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title: `${job}: runs`,
          left: [jobMetric(job, 'durationMs', 'SampleCount'), jobMetric(job, 'failed_runs', 'Sum'), jobMetric(job, 'skipped_runs', 'Sum')],
          width: NARROW,
        }),
        new cloudwatch.GraphWidget({
          title: `${job}: stats`,
          left: definition.infra.dashboard.map((stat) => jobMetric(job, stat, statisticOf(stat))),
          width: NARROW,
        }),
        new cloudwatch.GraphWidget({
          title: `${job}: duration (ms)`,
          left: [jobMetric(job, 'durationMs', 'p50'), jobMetric(job, 'durationMs', 'Maximum')],
          width: NARROW,
        }),
        new cloudwatch.AlarmStatusWidget({ title: `${job}: alarms and heartbeat`, alarms, width: NARROW }),
      );
      if (fastPath) {
        this.dashboard.addWidgets(
          new cloudwatch.GraphWidget({
            title: `${job}: fast path (SQS)`,
            left: ['delivered', 'retried', 'failed'].map((stat) => jobMetric(job, stat, 'Sum', 'sqs')),
            width: WIDE,
          }),
          new cloudwatch.GraphWidget({
            title: `${job}: fast-path latency`,
            left: [jobMetric(job, 'durationMs', 'p50', 'sqs'), jobMetric(job, 'durationMs', 'p99', 'sqs')],
            right: [
              fastPath.metricApproximateAgeOfOldestMessage({ period: PERIOD, statistic: 'Maximum', label: 'oldest message age (s)' }),
            ],
            width: WIDE,
          }),
        );
      }
    }
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'dead-letter queues (messages waiting)',
        left: props.deadLetters.map(({ name, queue }) =>
          queue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: 'Maximum', label: name }),
        ),
        width: 24,
      }),
    );
    this.url = `https://${Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards/dashboard/${props.dashboardName}`;
  }
}
