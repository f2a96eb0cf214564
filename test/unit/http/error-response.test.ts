import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { CloudMapRequestError } from '../../../lib/cloudmap/errors';
import { ConfigError, type ConfigErrorKind } from '../../../lib/config/errors';
import { ConsulAddressError, ConsulRequestError, ConsulTimeoutError } from '../../../lib/consul/errors';
import { GreetError, type GreetErrorKind } from '../../../lib/greeter/errors';
import { GreeterCallError } from '../../../lib/grpc/errors';
import { HealthSyncError } from '../../../lib/health-sync/errors';
import { errorResponse } from '../../../lib/http/error-response';
import { RequestError, type RequestErrorKind } from '../../../lib/http/errors';
import { RegistryError, type RegistryErrorKind } from '../../../lib/registry/errors';
import { recordingLog } from '../helpers/recording-log';

interface Expected {
  status: number;
  code: string;
  retryAfter?: string;
  logged?: 'warn' | 'error';
}

const bodyOf = (r: APIGatewayProxyStructuredResultV2) => JSON.parse(String(r.body)) as { error: { code: string; message: string } };

/** Answers `err` and checks status, code, message, Retry-After and the log level. */
function check(err: unknown, want: Expected, message: string) {
  const log = recordingLog();
  const r = errorResponse(err, log);
  assert.equal(r.statusCode, want.status);
  assert.deepEqual(bodyOf(r), { error: { code: want.code, message } });
  assert.equal(r.headers?.['retry-after'], want.retryAfter);
  assert.equal(r.headers?.['content-type'], 'application/json; charset=utf-8');
  assert.equal(r.headers?.['cache-control'], 'no-store');
  assert.deepEqual(
    log.lines.map((l) => l.level),
    want.logged ? [want.logged] : [],
  );
  return log;
}

describe('errorResponse for request errors', () => {
  // A Record over the kind type: adding a kind without a row here fails the type check.
  const table: Record<RequestErrorKind, Expected> = {
    invalid_body: { status: 400, code: 'INVALID_INPUT' },
    payload_too_large: { status: 413, code: 'PAYLOAD_TOO_LARGE' },
    unsupported_media_type: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
    method_not_allowed: { status: 405, code: 'METHOD_NOT_ALLOWED' },
  };
  for (const [kind, want] of Object.entries(table) as [RequestErrorKind, Expected][]) {
    it(`answers ${kind} with ${want.status} ${want.code}, showing the message and logging nothing`, () => {
      check(new RequestError(kind, `the ${kind} message`), want, `the ${kind} message`);
    });
  }
});

describe('errorResponse for greet errors', () => {
  const table: Record<GreetErrorKind, Expected> = {
    invalid_name: { status: 400, code: 'INVALID_INPUT' },
    no_healthy_instance: { status: 503, code: 'NO_HEALTHY_INSTANCE', retryAfter: '7', logged: 'warn' },
    unavailable: { status: 503, code: 'BACKEND_UNAVAILABLE', retryAfter: '7', logged: 'warn' },
    deadline: { status: 504, code: 'DEADLINE_EXCEEDED', logged: 'warn' },
    backend: { status: 502, code: 'BACKEND_ERROR', logged: 'warn' },
    forbidden_by_intention: { status: 403, code: 'INTENTION_DENIED', logged: 'warn' },
  };
  for (const [kind, want] of Object.entries(table) as [GreetErrorKind, Expected][]) {
    it(`answers ${kind} with ${want.status} ${want.code}${want.retryAfter ? ' and Retry-After' : ''}, showing the message`, () => {
      // Every error carries retryAfterSeconds: only "try again later" answers may send it.
      check(new GreetError(kind, `the ${kind} message`, { retryAfterSeconds: 7 }), want, `the ${kind} message`);
    });
  }

  it('sends no Retry-After on a 503 whose error does not say when to retry', () => {
    assert.equal(errorResponse(new GreetError('no_healthy_instance', 'none'), recordingLog()).headers?.['retry-after'], undefined);
  });

  it('logs attempts, the backend service and a summary of the cause', () => {
    const cause = new GreeterCallError('unavailable', 14, 3, 'connect ECONNREFUSED');
    const log = recordingLog();
    errorResponse(
      new GreetError('unavailable', 'every attempt failed', { attempts: 3, backendService: 'greeter', retryAfterSeconds: 1 }, { cause }),
      log,
    );
    assert.deepEqual(log.lines, [
      {
        level: 'warn',
        message: 'greet request failed',
        attributes: {
          kind: 'unavailable',
          status: 503,
          error: { name: 'GreetError', message: 'every attempt failed' },
          attempts: 3,
          backendService: 'greeter',
          cause: { name: 'GreeterCallError', message: 'connect ECONNREFUSED' },
        },
      },
    ]);
  });
});

describe('errorResponse for registry errors', () => {
  const table: Record<RegistryErrorKind, Expected> = {
    invalid_request: { status: 400, code: 'INVALID_INPUT' },
    not_found: { status: 404, code: 'NOT_FOUND' },
    forbidden: { status: 403, code: 'FORBIDDEN' },
    health_is_probed: { status: 409, code: 'HEALTH_IS_PROBED' },
    idempotency_key_reused: { status: 422, code: 'IDEMPOTENCY_KEY_REUSED' },
    idempotency_conflict: { status: 409, code: 'IDEMPOTENCY_CONFLICT', retryAfter: '1' },
    quota_exceeded: { status: 429, code: 'QUOTA_EXCEEDED', retryAfter: '30' },
  };
  for (const [kind, want] of Object.entries(table) as [RegistryErrorKind, Expected][]) {
    it(`answers ${kind} with ${want.status} ${want.code}${want.retryAfter ? ' and Retry-After' : ''}, showing the message`, () => {
      check(new RegistryError(kind, `the ${kind} message`), want, `the ${kind} message`);
    });
  }
});

describe('errorResponse for Consul errors', () => {
  it("passes Consul's ACL denial on as 403 with a fixed message, logged as a warning", () => {
    for (const status of [401, 403]) {
      const log = check(
        new ConsulRequestError('consul.agent.service.register', 'Permission denied: token with AccessorID abc', status),
        { status: 403, code: 'FORBIDDEN', logged: 'warn' },
        'not permitted by the Consul ACL policy of this function',
      );
      assert.match(JSON.stringify(log.lines[0]?.attributes), /Permission denied/, 'the detail goes to the log');
    }
  });

  it('answers any other Consul failure, a timeout included, 503 CONSUL_UNAVAILABLE with Retry-After and a fixed message, logged as an error', () => {
    for (const err of [
      new ConsulRequestError('consul.kv.get', 'connect ECONNREFUSED 10.0.0.5:8500', undefined),
      new ConsulRequestError('consul.kv.get', 'rpc error', 500),
      new ConsulTimeoutError('consul.kv.get', 'timed out after 2000 ms'),
    ]) {
      check(err, { status: 503, code: 'CONSUL_UNAVAILABLE', retryAfter: '1', logged: 'error' }, 'service registry temporarily unavailable');
    }
  });
});

describe('errorResponse for config errors', () => {
  const table: Record<ConfigErrorKind, Expected> = {
    invalid_environment: { status: 500, code: 'MISCONFIGURED', logged: 'error' },
    invalid_secret: { status: 500, code: 'MISCONFIGURED', logged: 'error' },
    invalid_config: { status: 500, code: 'MISCONFIGURED', logged: 'error' },
    secret_unavailable: { status: 503, code: 'SECRETS_UNAVAILABLE', retryAfter: '1', logged: 'error' },
  };
  const fixed: Record<ConfigErrorKind, string> = {
    invalid_environment: 'the function is misconfigured; its log says how',
    invalid_secret: 'the function is misconfigured; its log says how',
    invalid_config: 'the function is misconfigured; its log says how',
    secret_unavailable: 'secrets temporarily unavailable',
  };
  for (const [kind, want] of Object.entries(table) as [ConfigErrorKind, Expected][]) {
    it(`answers ${kind} with ${want.status} ${want.code} and a fixed message, the detail only in the log`, () => {
      const log = check(new ConfigError(kind, 'SSM parameter /prod/registry-key is empty'), want, fixed[kind]);
      assert.match(JSON.stringify(log.lines[0]?.attributes), /\/prod\/registry-key/);
    });
  }
});

describe('errorResponse for an unusable Consul address', () => {
  it('answers a mixed http/https list 500 MISCONFIGURED with a fixed message, the detail only in the log (issue 17)', () => {
    const log = check(
      new ConsulAddressError('Consul address list mixes https and http'),
      { status: 500, code: 'MISCONFIGURED', logged: 'error' },
      'the function is misconfigured; its log says how',
    );
    assert.match(JSON.stringify(log.lines[0]?.attributes), /mixes https and http/);
  });
});

describe('errorResponse for unknown errors', () => {
  const secretError = () => {
    const err = new TypeError('secret token abc123 leaked');
    err.stack = 'TypeError: secret token abc123 leaked\n    at handler (/var/task/x.js:1:1)';
    return err;
  };

  it('answers a bare 500 INTERNAL whose body holds neither the message nor the stack', () => {
    const r = errorResponse(secretError(), recordingLog());
    assert.equal(r.statusCode, 500);
    assert.deepEqual(bodyOf(r), { error: { code: 'INTERNAL', message: 'internal error' } });
    assert.doesNotMatch(String(r.body), /abc123|x\.js|TypeError/);
    assert.equal(r.headers?.['retry-after'], undefined);
  });

  it('logs an unknown error once, as an error, with its name and message but no stack', () => {
    const log = recordingLog();
    errorResponse(secretError(), log);
    assert.deepEqual(log.lines, [
      {
        level: 'error',
        message: 'unhandled error',
        attributes: { kind: undefined, status: 500, error: { name: 'TypeError', message: 'secret token abc123 leaked' } },
      },
    ]);
    assert.doesNotMatch(JSON.stringify(log.lines), /x\.js| {4}at /);
  });

  it('answers a thrown non-Error as a bare 500 too', () => {
    const log = recordingLog();
    assert.deepEqual(bodyOf(errorResponse('oops', log)), { error: { code: 'INTERNAL', message: 'internal error' } });
    assert.deepEqual(log.lines[0]?.attributes.error, { name: 'NonError', message: 'oops' });
  });

  it('answers errors of domains without an HTTP table as a bare 500, their message kept out of the body', () => {
    const others = [
      new HealthSyncError('invalid_input', 'hidden-1'),
      new GreeterCallError('backend', 2, 1, 'hidden-2'),
      new CloudMapRequestError('ListServices', 'hidden-4', 'AccessDenied'),
    ];
    for (const err of others) {
      const r = errorResponse(err, recordingLog());
      assert.equal(r.statusCode, 500, err.name);
      assert.deepEqual(bodyOf(r), { error: { code: 'INTERNAL', message: 'internal error' } });
    }
  });
});
