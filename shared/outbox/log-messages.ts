/**
 * Log messages other parts search for: the stack's saved Logs Insights query filters on this one,
 * so the engine and the query share the constant (a leaf module: the CDK app imports it).
 */
export const FAILED_ATTEMPT_MESSAGE = 'webhook delivery failed';

/** One failed POST, as logged: what an operator groups by endpoint to see who is failing and how. */
export interface FailedAttempt {
  endpointId: string;
  deliveryId: string;
  eventId: string;
  attempt: number;
  statusCode?: number;
  error: string;
}
