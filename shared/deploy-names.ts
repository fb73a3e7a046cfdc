import type { JobName } from './jobs.js';

/**
 * The names the deployed stack gives its parts, derived from one prefix (`CHORES_PREFIX`, default
 * `chores`). The CLI's AWS commands find functions, schedules and queues by these names, so the
 * CDK stack must create exactly these.
 */
export function deployNames(prefix = 'chores') {
  return {
    functionName: (job: JobName) => `${prefix}-${job}`,
    scheduleGroup: prefix,
    scheduleName: (job: JobName) => job,
    dispatchQueue: `${prefix}-dispatch`,
    dispatchDlq: `${prefix}-dispatch-dlq`,
    schedulesDlq: `${prefix}-schedules-dlq`,
    /** Where a run that threw lands (Lambda's on-failure destination): its payload and its error. */
    failedRuns: `${prefix}-failed-runs`,
    dashboard: `${prefix}-operations`,
  };
}
