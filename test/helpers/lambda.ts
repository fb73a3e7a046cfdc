import type { Context } from 'aws-lambda';
import { BUDGET_MARGIN_MS } from '../../shared/runtime/budget.js';

/**
 * A Lambda context whose remaining time is `budgetMs` beyond the factory's safety margin, so the
 * service sees a budget of exactly `budgetMs`.
 */
export function lambdaContext(budgetMs = 60_000, functionName = 'chores-test'): Context {
  const deadline = Date.now() + BUDGET_MARGIN_MS + budgetMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: crypto.randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'test',
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}
