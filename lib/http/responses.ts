/** JSON responses for httpApi (payload v2) and REST events, and the error mapping. */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { GreetError, type GreetFailureKind } from '../greeter/errors';
import { errorSummary, logger } from '../log/logger';
import { ConsulRequestError } from '../consul/errors';
import { RequestError } from './errors';

/** A JSON response with no-store caching. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

const GREET_FAILURES: Record<GreetFailureKind, { status: number; code: string }> = {
  no_healthy_instance: { status: 503, code: 'NO_HEALTHY_INSTANCE' },
  unavailable: { status: 503, code: 'BACKEND_UNAVAILABLE' },
  deadline: { status: 504, code: 'DEADLINE_EXCEEDED' },
  backend: { status: 502, code: 'BACKEND_ERROR' },
};

/** `{"error": {code, message}}` for any error; unknown errors become a bare 500 and are logged without stack. */
export function errorResponse(err: unknown): APIGatewayProxyStructuredResultV2 {
  if (err instanceof RequestError) return json(err.status, { error: { code: err.code, message: err.message } });
  if (err instanceof GreetError) {
    const { status, code } = GREET_FAILURES[err.kind];
    const headers: Record<string, string> = status === 503 && err.details.retryAfterSeconds ? { 'retry-after': String(err.details.retryAfterSeconds) } : {};
    logger.warn('greet failed', { kind: err.kind, status, attempts: err.details.attempts, service: err.details.service, cause: err.cause ? errorSummary(err.cause) : undefined });
    return json(status, { error: { code, message: err.message } }, headers);
  }
  if (err instanceof ConsulRequestError) {
    // Consul's own ACL decision is passed on as ours; anything else means Consul is not usable right now.
    if (err.isPermissionDenied) {
      logger.warn('Consul denied the operation', { operation: err.operation, status: err.statusCode });
      return json(403, { error: { code: 'FORBIDDEN', message: 'not permitted by the Consul ACL policy of this function' } });
    }
    logger.error('Consul request failed', { operation: err.operation, status: err.statusCode, error: errorSummary(err) });
    return json(503, { error: { code: 'CONSUL_UNAVAILABLE', message: 'service registry temporarily unavailable' } }, { 'retry-after': '1' });
  }
  logger.error('unhandled error', { error: errorSummary(err) });
  return json(500, { error: { code: 'INTERNAL', message: 'internal error' } });
}
