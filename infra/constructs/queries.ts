import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { FAILED_ATTEMPT_MESSAGE } from '../../shared/outbox/log-messages.js';

/**
 * Saved CloudWatch Logs Insights queries, under the stage's prefix in the console's query list.
 * They read the JSON lines the handler factory writes (Powertools Logger: `message`, `level`, `job`,
 * `runId`, `function_request_id`, `error`, `stats`), so a change to those keys must change these.
 */
export class SavedQueries extends Construct {
  constructor(
    scope: Construct,
    id: string,
    props: { prefix: string; logGroups: { job: string; logGroup: logs.ILogGroup; delivers: boolean }[] },
  ) {
    super(scope, id);
    const all = props.logGroups.map((g) => g.logGroup);
    new logs.QueryDefinition(this, 'FailedRuns', {
      queryDefinitionName: `${props.prefix}/failed-runs`,
      queryString: new logs.QueryString({
        fields: ['@timestamp', 'job', 'runId', 'function_request_id', 'error.name', 'error.message'],
        filterStatements: ['level = "ERROR"', 'message in ["run failed", "invalid payload; nothing was run"]'],
        sort: '@timestamp desc',
        limit: 100,
      }),
      logGroups: all,
    });
    for (const { job, logGroup } of props.logGroups) {
      new logs.QueryDefinition(this, `Runs-${job}`, {
        queryDefinitionName: `${props.prefix}/runs/${job}`,
        queryString: new logs.QueryString({
          fields: ['@timestamp', 'runId', 'message', 'stats.durationMs', 'stats.truncated', 'stats.remaining', 'error.message'],
          filterStatements: ['message in ["run finished", "run failed", "run skipped"]'],
          sort: '@timestamp desc',
          limit: 50,
        }),
        logGroups: [logGroup],
      });
    }
    const delivering = props.logGroups.filter((g) => g.delivers).map((g) => g.logGroup);
    if (delivering.length > 0) {
      // One line per failed webhook attempt (functions/outbox-deliver.ts): `{"message", "endpointId", "statusCode", "error", …}`.
      new logs.QueryDefinition(this, 'FailingDeliveries', {
        queryDefinitionName: `${props.prefix}/failing-deliveries-by-endpoint`,
        queryString: new logs.QueryString({
          filterStatements: [`message = "${FAILED_ATTEMPT_MESSAGE}"`],
          statsStatements: ['count(*) as failures, latest(statusCode) as lastStatus, latest(error) as lastError by endpointId'],
          sort: 'failures desc',
          limit: 100,
        }),
        logGroups: delivering,
      });
    }
  }
}
