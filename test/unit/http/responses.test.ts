import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConsulRequestError } from '../../../lib/consul/errors';
import { GreetError } from '../../../lib/greeter/errors';
import { invalidInput } from '../../../lib/http/errors';
import { errorResponse } from '../../../lib/http/responses';

const body = (r: { body?: string }) => JSON.parse(r.body ?? '{}') as { error: { code: string; message: string } };

describe('errorResponse', () => {
  it('maps each greet failure to its status', () => {
    const cases: [GreetError, number, string][] = [
      [new GreetError('no_healthy_instance', 'none', { retryAfterSeconds: 2 }), 503, 'NO_HEALTHY_INSTANCE'],
      [new GreetError('unavailable', 'down', { retryAfterSeconds: 1 }), 503, 'BACKEND_UNAVAILABLE'],
      [new GreetError('deadline', 'slow'), 504, 'DEADLINE_EXCEEDED'],
      [new GreetError('backend', 'broken'), 502, 'BACKEND_ERROR'],
    ];
    for (const [err, status, code] of cases) {
      const r = errorResponse(err);
      assert.equal(r.statusCode, status);
      assert.equal(body(r).error.code, code);
    }
  });
  it('sends Retry-After with 503', () => {
    assert.equal(errorResponse(new GreetError('no_healthy_instance', 'none', { retryAfterSeconds: 2 })).headers?.['retry-after'], '2');
  });
  it('maps request errors to their status', () => {
    const r = errorResponse(invalidInput('bad name'));
    assert.equal(r.statusCode, 400);
    assert.deepEqual(body(r), { error: { code: 'INVALID_INPUT', message: 'bad name' } });
  });
  it('hides unexpected errors behind a bare 500 without stack or message', () => {
    const r = errorResponse(new Error('secret token abc123 at /var/task/x.js:1:1'));
    assert.equal(r.statusCode, 500);
    assert.doesNotMatch(r.body ?? '', /abc123|x\.js/);
  });
});

describe('errorResponse for Consul failures', () => {
  it("passes Consul's ACL denial on as 403 and other failures as 503", () => {
    assert.equal(errorResponse(new ConsulRequestError('consul.agent.service.register', 'Permission denied', 403)).statusCode, 403);
    const r = errorResponse(new ConsulRequestError('consul.kv.get', 'connect ECONNREFUSED', undefined));
    assert.equal(r.statusCode, 503);
    assert.equal(r.headers?.['retry-after'], '1');
  });
});
