/**
 * Errors of the generic RPC route as HTTP answers whose body is a JSON google.rpc.Status:
 * - a backend's status: HTTP status by the google.rpc.Code mapping (google/rpc/code.proto), the
 *   backend's code, message and typed details passed on;
 * - the route's own failures: the statuses and codes the greet route answers for the same cause
 *   (test/unit/rpc/rpc-error-response.test.ts holds them equal), the code as a google.rpc.ErrorInfo
 *   reason, and a wrong field as a google.rpc.BadRequest;
 * - everything else (a request the edge refused, Consul, config): errorResponse's own table, its
 *   status and code kept and only the body rewritten into the same shape.
 * No stack trace, no cause: the log gets those, as errorResponse does.
 */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { errorSummary, type Log } from '../log/logger';
import { shippedDescriptors } from '../rpc/descriptors';
import { RpcError, RpcStatusError, type RpcErrorKind } from '../rpc/errors';
import { ownStatus } from '../rpc/status';
import { errorResponse } from './error-response';
import { json } from './responses';

/** google.rpc.Code → HTTP status, as google/rpc/code.proto documents it (pure). */
export const HTTP_STATUS_OF_CODE: Readonly<Record<number, number>> = {
  0: 200,
  1: 499,
  2: 500,
  3: 400,
  4: 504,
  5: 404,
  6: 409,
  7: 403,
  8: 429,
  9: 400,
  10: 409,
  11: 400,
  12: 501,
  13: 500,
  14: 503,
  15: 500,
  16: 401,
};

/** The gRPC code an HTTP status of ours stands for, for answers of errorResponse's table (pure). */
export function codeOfHttpStatus(status: number): number {
  const exact: Record<number, number> = {
    400: 3,
    401: 16,
    403: 7,
    404: 5,
    409: 10,
    413: 3,
    415: 3,
    422: 9,
    429: 8,
    499: 1,
    501: 12,
    503: 14,
    504: 4,
  };
  return exact[status] ?? (status === 405 ? 12 : status >= 500 ? 13 : 2);
}

interface OwnAnswer {
  status: number;
  code: string;
  grpc: number;
  log?: 'warn';
}

/** The route's own failures; those a greet also has are answered with the greet's status and code. */
export const RPC_ANSWERS: Readonly<Record<RpcErrorKind, OwnAnswer>> = {
  not_found: { status: 404, code: 'NOT_FOUND', grpc: 5 },
  invalid_argument: { status: 400, code: 'INVALID_INPUT', grpc: 3 },
  unimplemented: { status: 501, code: 'NOT_IMPLEMENTED', grpc: 12 },
  no_healthy_instance: { status: 503, code: 'NO_HEALTHY_INSTANCE', grpc: 14, log: 'warn' },
  unavailable: { status: 503, code: 'BACKEND_UNAVAILABLE', grpc: 14, log: 'warn' },
  deadline: { status: 504, code: 'DEADLINE_EXCEEDED', grpc: 4, log: 'warn' },
  forbidden_by_intention: { status: 403, code: 'INTENTION_DENIED', grpc: 7, log: 'warn' },
};

/** A google.rpc.Status answer for any error of the rpc route. */
export function rpcErrorResponse(err: unknown, log: Log): APIGatewayProxyStructuredResultV2 {
  const d = shippedDescriptors();
  if (err instanceof RpcStatusError) {
    const status = HTTP_STATUS_OF_CODE[err.grpcCode] ?? 500;
    if (status >= 500)
      log.warn('rpc request failed', { kind: err.kind, status, grpcCode: err.grpcCode, backendService: err.backendService });
    return json(status, err.status);
  }
  if (err instanceof RpcError) {
    const a = RPC_ANSWERS[err.kind];
    if (a.log)
      log[a.log]('rpc request failed', {
        kind: err.kind,
        status: a.status,
        attempts: err.details.attempts,
        backendService: err.details.backendService,
        cause: err.cause ? errorSummary(err.cause) : undefined,
      });
    const headers: Record<string, string> =
      a.status === 503 && err.details.retryAfterSeconds ? { 'retry-after': String(err.details.retryAfterSeconds) } : {};
    return json(a.status, ownStatus(d, a.grpc, err.message, a.code, err.details.field), headers);
  }
  const plain = errorResponse(err, log);
  const status = plain.statusCode ?? 500;
  const { error } = JSON.parse(String(plain.body)) as { error: { code: string; message: string } };
  const headers = Object.fromEntries(Object.entries(plain.headers ?? {}).map(([k, v]) => [k, String(v)]));
  return json(status, ownStatus(d, codeOfHttpStatus(status), error.message, error.code), headers);
}
