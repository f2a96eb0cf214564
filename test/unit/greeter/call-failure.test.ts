import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { greetErrorFromCall } from '../../../lib/greeter/call-failure';
import { GreetError } from '../../../lib/greeter/errors';
import { failureKind, GreeterCallError } from '../../../lib/grpc/errors';

const callError = (code: number, attempts = 2) => new GreeterCallError(failureKind(code), code, attempts, 'from grpc');
const ctx = { service: 'greeter', budgetMs: 1_750, details: { retryAfterSeconds: 1, backendService: 'greeter' } };

describe('greetErrorFromCall', () => {
  it('keeps the adapter kind, words the message for the caller and carries the attempts and the cause', () => {
    const cause = callError(status.UNAVAILABLE, 3);
    const e = greetErrorFromCall(cause, ctx);
    assert.ok(e instanceof GreetError);
    assert.equal(e.kind, 'unavailable');
    assert.equal(e.message, 'every attempt to reach greeter failed');
    assert.deepEqual(e.details, { ...ctx.details, attempts: 3 });
    assert.equal(e.cause, cause);
    assert.equal(greetErrorFromCall(callError(status.DEADLINE_EXCEEDED), ctx).message, 'greeter did not answer within 1750 ms');
    assert.equal(greetErrorFromCall(callError(status.INTERNAL), ctx).message, 'greeter failed the call (INTERNAL)');
  });

  it('reads PERMISSION_DENIED as an intention deny only on a Connect transport', () => {
    const denied = callError(status.PERMISSION_DENIED);
    const connect = greetErrorFromCall(denied, { ...ctx, identity: 'greeter-gateway' });
    assert.equal(connect.kind, 'forbidden_by_intention');
    assert.equal(connect.message, 'Consul intentions do not allow greeter-gateway to call greeter');
    assert.equal(greetErrorFromCall(denied, ctx).kind, 'backend');
  });
});
