import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';

export const METRICS_NAMESPACE = 'Chores';

/**
 * One EMF metric per top-level numeric stat (booleans as 0/1, so `truncated` can be alarmed on),
 * all under the dimension `Job`. Nested maps such as `byRule` stay in the logged stats only:
 * their keys are user-defined and would multiply metric cardinality.
 */
export function addStatsMetrics(metrics: Metrics, job: string, stats: Record<string, unknown>): void {
  metrics.addDimension('Job', job);
  for (const [name, value] of Object.entries(stats)) {
    if (typeof value === 'number') metrics.addMetric(name, name.endsWith('Ms') ? MetricUnit.Milliseconds : MetricUnit.Count, value);
    else if (typeof value === 'boolean') metrics.addMetric(name, MetricUnit.Count, value ? 1 : 0);
  }
}

/** One occurrence of something worth a dashboard line (a skipped run, a failed run, a bad payload). */
export function countOnce(metrics: Metrics, job: string, name: string): void {
  metrics.addDimension('Job', job);
  metrics.addMetric(name, MetricUnit.Count, 1);
}
