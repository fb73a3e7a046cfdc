import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';

export const METRICS_NAMESPACE = 'Chores';

/**
 * Nested stats published with a dimension of their own, one metric per key: kombu's backlog by
 * queue (`backlog` with `Queue=celery`). Queue names are the app's own few, so the cardinality
 * stays what the app chose.
 */
export const DIMENSIONED_STATS: Record<string, string> = { backlog: 'Queue' };

/**
 * One EMF metric per top-level numeric stat (booleans as 0/1, so `truncated` can be alarmed on),
 * all under the dimension `Job`. Nested maps such as `byRule` stay in the logged stats only:
 * their keys are user-defined and would multiply metric cardinality; those in DIMENSIONED_STATS
 * are the exception.
 */
export function addStatsMetrics(metrics: Metrics, job: string, stats: Record<string, unknown>): void {
  metrics.addDimension('Job', job);
  for (const [name, value] of Object.entries(stats)) {
    if (typeof value === 'number') metrics.addMetric(name, name.endsWith('Ms') ? MetricUnit.Milliseconds : MetricUnit.Count, value);
    else if (typeof value === 'boolean') metrics.addMetric(name, MetricUnit.Count, value ? 1 : 0);
    else if (DIMENSIONED_STATS[name] && value && typeof value === 'object') {
      for (const [key, n] of Object.entries(value)) {
        if (typeof n !== 'number') continue;
        // A metric of its own (its own EMF blob), so the extra dimension applies to it alone.
        const single = metrics.singleMetric();
        single.addDimensions({ Job: job, [DIMENSIONED_STATS[name]]: key });
        single.addMetric(name, MetricUnit.Count, n);
      }
    }
  }
}

/** One occurrence of something worth a dashboard line (a skipped run, a failed run, a bad payload). */
export function countOnce(metrics: Metrics, job: string, name: string): void {
  metrics.addDimension('Job', job);
  metrics.addMetric(name, MetricUnit.Count, 1);
}
