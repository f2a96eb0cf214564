import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { ConsulRequestError } from '../../../lib/consul/errors';
import { GreetError } from '../../../lib/greeter/errors';
import { errorResponse } from '../../../lib/http/error-response';
import { RequestError } from '../../../lib/http/errors';
import { HTTP_STATUS_OF_CODE, RPC_ANSWERS, rpcErrorResponse } from '../../../lib/http/rpc-error-response';
import { shippedDescriptors } from '../../../lib/rpc/descriptors';
import { RpcError, RpcStatusError } from '../../../lib/rpc/errors';
import { backendStatus } from '../../../lib/rpc/status';
import { recordingLog } from '../helpers/recording-log';

const body = (r: { body?: string }) =>
  JSON.parse(r.body ?? '{}') as { code?: number; message?: string; details?: Record<string, unknown>[] };

describe('gRPC status → HTTP', () => {
  it('follows the google.rpc.Code mapping for every code', () => {
    const expected: Record<keyof typeof status, number> = {
      OK: 200,
      CANCELLED: 499,
      UNKNOWN: 500,
      INVALID_ARGUMENT: 400,
      DEADLINE_EXCEEDED: 504,
      NOT_FOUND: 404,
      ALREADY_EXISTS: 409,
      PERMISSION_DENIED: 403,
      RESOURCE_EXHAUSTED: 429,
      FAILED_PRECONDITION: 400,
      ABORTED: 409,
      OUT_OF_RANGE: 400,
      UNIMPLEMENTED: 501,
      INTERNAL: 500,
      UNAVAILABLE: 503,
      DATA_LOSS: 500,
      UNAUTHENTICATED: 401,
    };
    for (const [name, http] of Object.entries(expected)) assert.equal(HTTP_STATUS_OF_CODE[status[name as keyof typeof status]], http, name);
  });

  it("answers a backend's status as a google.rpc.Status, typed details kept and no stack", () => {
    const st = backendStatus(shippedDescriptors(), status.ALREADY_EXISTS, 'taken', undefined);
    const res = rpcErrorResponse(
      new RpcStatusError(status.ALREADY_EXISTS, st, 1, 'echo', { cause: new Error('secret stack') }),
      recordingLog(),
    );
    assert.equal(res.statusCode, 409);
    assert.deepEqual(body(res), { code: 6, message: 'taken' });
    assert.doesNotMatch(res.body ?? '', /stack|secret/);
  });
});

describe("the route's own failures", () => {
  it('keep the status and code a greet answers for the same cause', () => {
    for (const kind of ['no_healthy_instance', 'unavailable', 'deadline', 'forbidden_by_intention'] as const) {
      const greet = errorResponse(new GreetError(kind, 'x'), recordingLog());
      const rpc = rpcErrorResponse(new RpcError(kind, 'x'), recordingLog());
      assert.equal(rpc.statusCode, greet.statusCode, kind);
      const greetCode = (JSON.parse(greet.body ?? '{}') as { error: { code: string } }).error.code;
      assert.equal(RPC_ANSWERS[kind].code, greetCode, kind);
      assert.deepEqual(body(rpc).details?.[0], {
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        reason: greetCode,
        domain: 'consul-grpc-lambda',
      });
    }
  });

  it('name a wrong field in a google.rpc.BadRequest, and send Retry-After with a 503', () => {
    const bad = rpcErrorResponse(new RpcError('invalid_argument', 'count: expected number', { field: 'count' }), recordingLog());
    assert.equal(bad.statusCode, 400);
    assert.equal(body(bad).code, 3);
    assert.deepEqual(body(bad).details?.[1], {
      '@type': 'type.googleapis.com/google.rpc.BadRequest',
      fieldViolations: [{ field: 'count', description: 'count: expected number' }],
    });
    const busy = rpcErrorResponse(new RpcError('no_healthy_instance', 'none', { retryAfterSeconds: 2 }), recordingLog());
    assert.equal(busy.headers?.['retry-after'], '2');
  });

  it('answer not found in one way, whatever was missing', () => {
    const res = rpcErrorResponse(new RpcError('not_found', 'no such route'), recordingLog());
    assert.equal(res.statusCode, 404);
    assert.equal(body(res).code, 5);
  });

  it("keep the edge table's status and code for other failures, in the same body shape", () => {
    const consul = rpcErrorResponse(new ConsulRequestError('unavailable', 'down'), recordingLog());
    assert.equal(consul.statusCode, 503);
    assert.equal(body(consul).code, 14);
    assert.equal(body(consul).details?.[0]?.reason, 'CONSUL_UNAVAILABLE');
    const req = rpcErrorResponse(new RequestError('unsupported_media_type', 'content-type must be application/json'), recordingLog());
    assert.equal(req.statusCode, 415);
    assert.equal(body(req).details?.[0]?.reason, 'UNSUPPORTED_MEDIA_TYPE');
    const unknown = rpcErrorResponse(new Error('boom at /secret/path'), recordingLog());
    assert.equal(unknown.statusCode, 500);
    assert.deepEqual([body(unknown).code, body(unknown).message], [13, 'internal error']);
  });
});
