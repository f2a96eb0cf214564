// A fake grpc-js Client answers each attempt asynchronously, as grpc-js does; the method is SayHello.
// The one pause (a second call on a new channel) is a node:timers/promises
// setTimeout, which mock.timers fakes under tsx: no test waits for real time.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it, type TestContext } from 'node:test';
import { Metadata, status, type Client, type ServiceError } from '@grpc/grpc-js';
import { GreeterCallError } from '../../../lib/grpc/errors';
import { unaryCall, type UnaryCallOptions } from '../../../lib/grpc/unary-call';
import { SAY_HELLO } from '../../../lib/greeter/say-hello';
import type { HelloReply, HelloRequest } from '../../../proto/gen/helloworld';
import { drainMicrotasks } from '../helpers/deferred';

/** How grpc-js ends one call: `previousAttempts` is what it reports in grpc-previous-rpc-attempts. */
type Outcome =
  { reply: HelloReply; peer: string; previousAttempts?: number } | { code: status; details: string; previousAttempts?: number };

interface SeenCall {
  request: HelloRequest;
  metadata: unknown;
  options: unknown;
  at: number;
  /** Error.stackTraceLimit while grpc-js started the call. */
  stackTraceLimit: number;
}

function attemptsMetadata(previousAttempts: number | undefined): Metadata {
  const md = new Metadata();
  if (previousAttempts !== undefined) md.set('grpc-previous-rpc-attempts', String(previousAttempts));
  return md;
}

/** SayHello through the generic call (`idempotent` false: a method that may not run twice). */
const sayHello = (client: Client, name: string, opts: UnaryCallOptions, idempotent = true) =>
  unaryCall(client, { ...SAY_HELLO, idempotent }, { name }, opts);

/** A Client whose call n ends as outcomes[n]. */
function fakeClient(outcomes: Outcome[]) {
  const calls: SeenCall[] = [];
  const client = {
    makeUnaryRequest(
      path: string,
      _serialize: unknown,
      _deserialize: unknown,
      request: HelloRequest,
      metadata: unknown,
      options: unknown,
      callback: (err: ServiceError | null, reply?: HelloReply) => void,
    ) {
      assert.equal(path, '/helloworld.Greeter/SayHello');
      const outcome = outcomes[calls.length] ?? assert.fail(`unexpected call ${calls.length + 1}`);
      calls.push({ request, metadata, options, at: Date.now(), stackTraceLimit: Error.stackTraceLimit });
      let peer = '';
      const call = Object.assign(new EventEmitter(), { getPeer: () => peer });
      queueMicrotask(() => {
        if ('reply' in outcome) {
          peer = outcome.peer;
          call.emit('metadata', attemptsMetadata(outcome.previousAttempts));
          callback(null, outcome.reply);
        } else {
          const err = Object.assign(new Error(`${outcome.code} ${status[outcome.code]}: ${outcome.details}`), {
            code: outcome.code,
            details: outcome.details,
            metadata: attemptsMetadata(outcome.previousAttempts),
          });
          callback(err);
        }
      });
      return call;
    },
  };
  return { client: client as unknown as Client, calls };
}

const ok = (message: string, peer: string, previousAttempts?: number): Outcome => ({ reply: { message }, peer, previousAttempts });
const fail = (code: status, details = 'failed', previousAttempts?: number): Outcome => ({ code, details, previousAttempts });

function fakeTime(t: TestContext, random = 0): void {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  t.mock.method(Math, 'random', () => random);
}

/** The error `call` fails with, which must be a GreeterCallError. */
async function failure(call: Promise<unknown>): Promise<GreeterCallError> {
  try {
    await call;
  } catch (err) {
    assert.ok(err instanceof GreeterCallError, `expected a GreeterCallError, got ${String(err)}`);
    return err;
  }
  return assert.fail('the call should have failed');
}

describe('unaryCall', () => {
  it('returns the reply, the peer and one attempt, passing the name and the deadline on', async () => {
    const { client, calls } = fakeClient([ok('Hello Ada', '10.0.0.1:50051')]);
    const res = await sayHello(client, 'Ada', { deadline: 2_000 });
    assert.deepEqual(res, { reply: { message: 'Hello Ada' }, peer: '10.0.0.1:50051', attempts: 1 });
    assert.deepEqual(calls[0]?.request, { name: 'Ada' });
    assert.ok(calls[0]?.metadata instanceof Metadata);
    assert.deepEqual(calls[0]?.options, { deadline: 2_000 });
  });

  it('counts the attempts grpc-js made from grpc-previous-rpc-attempts on the answer', async () => {
    const { client } = fakeClient([ok('Hello Ada', '10.0.0.2:50051', 2)]);
    assert.equal((await sayHello(client, 'Ada', { deadline: 2_000 })).attempts, 3);
  });

  for (const [code, kind] of [
    [status.UNAVAILABLE, 'unavailable'],
    [status.DEADLINE_EXCEEDED, 'deadline'],
    [status.PERMISSION_DENIED, 'permission_denied'],
    [status.INTERNAL, 'backend'],
    [status.UNKNOWN, 'backend'],
    [status.INVALID_ARGUMENT, 'backend'],
    [status.RESOURCE_EXHAUSTED, 'backend'],
  ] as const) {
    it(`classifies ${status[code]} as ${kind}, with the details as message and the gRPC error as cause`, async () => {
      const { client, calls } = fakeClient([fail(code, 'it broke')]);
      const err = await failure(sayHello(client, 'Ada', { deadline: 2_000 }));
      assert.deepEqual(
        { kind: err.kind, grpcCode: err.grpcCode, attempts: err.attempts, message: err.message },
        { kind, grpcCode: code, attempts: 1, message: 'it broke' },
      );
      assert.equal((err.cause as ServiceError).code, code);
      assert.equal(calls.length, 1);
    });
  }

  it('counts the attempts of a failed call from grpc-previous-rpc-attempts in its trailers', async () => {
    const { client } = fakeClient([fail(status.UNAVAILABLE, 'refused', 2)]);
    assert.equal((await failure(sayHello(client, 'Ada', { deadline: 2_000 }))).attempts, 3);
  });

  it('makes no second call on an established channel', async () => {
    for (const newChannel of [false, undefined]) {
      const { client, calls } = fakeClient([fail(status.UNAVAILABLE), ok('unused', 'x:1')]);
      assert.equal((await failure(sayHello(client, 'Ada', { deadline: 2_000, newChannel }))).kind, 'unavailable');
      assert.equal(calls.length, 1);
    }
  });
});

describe('unaryCall on a new channel', () => {
  it('calls once more after 20–40 ms when every attempt was refused, adding up the attempts', async (t) => {
    fakeTime(t, 0);
    const { client, calls } = fakeClient([fail(status.UNAVAILABLE, 'refused', 2), ok('Hello Ada', '10.0.0.2:50051')]);
    let settled = false;
    const call = sayHello(client, 'Ada', { deadline: 2_000, newChannel: true }).finally(() => (settled = true));
    await drainMicrotasks();
    t.mock.timers.tick(19);
    await drainMicrotasks();
    assert.equal(calls.length, 1, 'no second call before the pause');
    t.mock.timers.tick(1);
    await drainMicrotasks();
    assert.equal(settled, true);
    assert.deepEqual(await call, { reply: { message: 'Hello Ada' }, peer: '10.0.0.2:50051', attempts: 4 });
    assert.deepEqual(
      calls.map((c) => c.at),
      [0, 20],
    );
  });

  it('pauses at most 40 ms before the second call', async (t) => {
    fakeTime(t, 1);
    const { client, calls } = fakeClient([fail(status.UNAVAILABLE), ok('Hello Ada', 'x:1')]);
    void sayHello(client, 'Ada', { deadline: 2_000, newChannel: true });
    await drainMicrotasks();
    t.mock.timers.tick(39);
    await drainMicrotasks();
    assert.equal(calls.length, 1);
    t.mock.timers.tick(1);
    await drainMicrotasks();
    assert.equal(calls.length, 2);
  });

  it('reports a failed second call as its own kind, with the attempts of both calls', async (t) => {
    fakeTime(t);
    const { client, calls } = fakeClient([fail(status.UNAVAILABLE, 'refused', 1), fail(status.DEADLINE_EXCEEDED, 'too slow')]);
    let settled = false;
    const call = sayHello(client, 'Ada', { deadline: 2_000, newChannel: true }).finally(() => (settled = true));
    call.catch(() => undefined);
    await drainMicrotasks();
    t.mock.timers.runAll();
    await drainMicrotasks();
    assert.equal(settled, true);
    const err = await failure(call);
    assert.deepEqual(
      { kind: err.kind, grpcCode: err.grpcCode, attempts: err.attempts, message: err.message },
      { kind: 'deadline', grpcCode: status.DEADLINE_EXCEEDED, attempts: 3, message: 'too slow' },
    );
    assert.equal((err.cause as ServiceError).details, 'too slow');
    assert.equal(calls.length, 2);
  });

  it('makes no second call after a failure other than UNAVAILABLE', async (t) => {
    fakeTime(t);
    const { client, calls } = fakeClient([fail(status.INTERNAL), ok('unused', 'x:1')]);
    const err = await failure(sayHello(client, 'Ada', { deadline: 2_000, newChannel: true }));
    assert.equal(err.kind, 'backend');
    assert.equal(calls.length, 1);
  });

  it('makes no second call when every instance of the channel already refused (a failover datacenter takes the call)', async (t) => {
    fakeTime(t);
    const { client, calls } = fakeClient([fail(status.UNAVAILABLE, 'refused'), ok('unused', 'x:1')]);
    let asked = 0;
    const err = await failure(sayHello(client, 'Ada', { deadline: 2_000, newChannel: true, allRefused: () => ++asked > 0 }));
    assert.deepEqual({ kind: err.kind, attempts: err.attempts }, { kind: 'unavailable', attempts: 1 });
    assert.equal(calls.length, 1);
    assert.equal(asked, 1, 'asked after the failure, not before the call');
  });

  it('makes no second call when the pause would reach the deadline', async (t) => {
    fakeTime(t, 0); // a 20 ms pause
    const { client, calls } = fakeClient([fail(status.UNAVAILABLE, 'refused'), ok('unused', 'x:1')]);
    const err = await failure(sayHello(client, 'Ada', { deadline: 20, newChannel: true }));
    assert.deepEqual({ kind: err.kind, message: err.message }, { kind: 'unavailable', message: 'refused' });
    assert.equal(calls.length, 1);
  });

  it('makes no second call for a method that may not run twice', async (t) => {
    fakeTime(t);
    const { client, calls } = fakeClient([fail(status.UNAVAILABLE, 'refused'), ok('unused', 'x:1')]);
    const err = await failure(sayHello(client, 'Ada', { deadline: 2_000, newChannel: true }, false));
    assert.deepEqual({ kind: err.kind, attempts: err.attempts }, { kind: 'unavailable', attempts: 1 });
    assert.equal(calls.length, 1);
  });
});

describe('unaryCall and the caller stack grpc-js captures', () => {
  it('starts the call with stack capture off, and the limit is back before the call returns', async () => {
    const before = Error.stackTraceLimit;
    assert.ok(before > 0, 'the test needs stack traces on to begin with');
    const { client, calls } = fakeClient([ok('Hello, Ada', '10.0.0.1:50051')]);
    const pending = sayHello(client, 'Ada', { deadline: Date.now() + 1_000 });
    assert.equal(Error.stackTraceLimit, before);
    await pending;
    assert.equal(calls[0]?.stackTraceLimit, 0);
    assert.equal(Error.stackTraceLimit, before);
  });

  it('puts the limit back when grpc-js throws as the call starts', async () => {
    const before = Error.stackTraceLimit;
    const client = {
      makeUnaryRequest() {
        throw new Error('The channel has been closed');
      },
    } as unknown as Client;
    await assert.rejects(sayHello(client, 'Ada', { deadline: Date.now() + 1_000 }), /channel has been closed/);
    assert.equal(Error.stackTraceLimit, before);
  });
});
