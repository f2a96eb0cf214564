// The rpc function (the generic HTTP → gRPC route) called in-process, as Lambda calls it, against a
// real Consul (ACLs on, least-privilege token), a real Greeter and real Echo backends; grpcurl, the
// reference client, answers the same calls directly for comparison.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { runtime as rpcRuntime } from '../../functions/rpc';
import { kvDelete, kvPut } from '../../lib/consul/kv';
import { ensureGrpcurlBinary } from '../../scripts/grpcurl-binary';
import { startGreeter, type GreeterBackend } from '../../scripts/stack/greeters';
import { stopProcess } from '../../scripts/stack/processes';
import { captureOutput, eventually, passingIds, startTestStack, type TestStack } from './harness';
import {
  callRpc,
  grpcurl,
  provisionRpcToken,
  RPC_LEASE_SERVICE,
  RPC_PREFIX,
  startEcho,
  useRpcEnvironment,
  type EchoBackend,
} from './rpc-support';
import { echoBackendToken } from '../../scripts/stack/tokens';

let stack: TestStack;
let echo: EchoBackend;
const echoes: EchoBackend[] = [];
let slow: GreeterBackend | undefined;
let greeterPort: number;
let rpcToken: string;
let grpcurlBin: string;

const RICH = {
  message: 'hello',
  count: 3,
  big: '9007199254740993',
  loud: true,
  mood: 'MOOD_GRUMPY',
  tags: ['a', 'b'],
  scores: { x: 1, y: -2 },
  sentAt: '2024-02-29T12:34:56.789Z',
  payload: 'AAEC/w==',
  groupId: 'g7',
  nested: { note: 'n', ids: ['1', '-5'] },
  ratio: 0.25,
};

/** The metadata Echo saw, without the trace context the gateway itself propagates on every call. */
function arrived(body: unknown): Record<string, string> {
  const {
    traceparent: _p,
    tracestate: _s,
    'x-amzn-trace-id': _x,
    ...rest
  } = (body as { metadata?: Record<string, string> }).metadata ?? {};
  return rest;
}

async function setRpcConfig(values: Record<string, string>): Promise<void> {
  for (const [k, v] of Object.entries(values)) await kvPut(stack.admin, `${RPC_PREFIX}${k}`, v);
}

/** grpcurl's parsed answer (a reply, or the google.rpc.Status it printed for an error). */
async function reference(port: number, method: string, data: unknown): Promise<unknown> {
  const res = await grpcurl(grpcurlBin, port, method, data);
  // With -format-error, grpcurl prints a failed call's status as JSON on stderr.
  const out = res.code === 0 ? res.stdout : res.stderr;
  assert.ok(out.trim().startsWith('{'), `grpcurl ${method} exited ${res.code}: ${res.stderr}`);
  return JSON.parse(out) as unknown;
}

before(async () => {
  grpcurlBin = ensureGrpcurlBinary((line) => console.error(line));
  stack = await startTestStack();
  const echoToken = await echoBackendToken(stack.admin, ['echo', 'echo-native', 'echo-flaky']);
  rpcToken = await provisionRpcToken(stack.admin, ['greeter', 'greeter-slow', 'echo', 'echo-native', 'echo-missing', 'echo-flaky']);
  greeterPort = (await stack.addGreeter({ id: 'rpc-greeter-1' })).port;
  // A Greeter of its own Consul service, so that the default mapping never reaches it.
  slow = await startGreeter({
    consulAddress: stack.consul.address,
    token: await echoBackendToken(stack.admin, ['greeter-slow']),
    id: 'rpc-greeter-slow',
    service: 'greeter-slow',
    latencyMs: 3_000,
  });
  echo = await startEcho({ consulAddress: stack.consul.address, token: echoToken, id: 'echo-1' });
  echoes.push(echo);
  echoes.push(
    await startEcho({ consulAddress: stack.consul.address, token: echoToken, id: 'echo-native-1', service: 'echo-native', connect: true }),
  );
  echoes.push(
    await startEcho({ consulAddress: stack.consul.address, token: echoToken, id: 'echo-flaky-bad', service: 'echo-flaky', failRate: 1 }),
  );
  echoes.push(await startEcho({ consulAddress: stack.consul.address, token: echoToken, id: 'echo-flaky-good', service: 'echo-flaky' }));
  for (const [service, id] of [
    ['echo', 'echo-1'],
    ['echo-native', 'echo-native-1'],
    ['echo-flaky', 'echo-flaky-bad'],
    ['echo-flaky', 'echo-flaky-good'],
    ['greeter-slow', 'rpc-greeter-slow'],
  ] as const)
    await eventually(async () => (await passingIds(stack.admin, service)).includes(id), 15_000, `${id} passing in Consul`);
  await setRpcConfig({ discoveryMinIntervalMs: '0', configMaxAgeSeconds: '0', coldStartWaitMs: '5000' });
});
after(async () => {
  rpcRuntime.reset();
  await Promise.all([...echoes, ...(slow ? [slow] : [])].map((e) => stopProcess(e.process, 'SIGKILL')));
  await stack?.stop();
});
beforeEach(async () => {
  rpcRuntime.reset();
  useRpcEnvironment(stack.consul.address, rpcToken);
  await setRpcConfig({
    rpcAllow: 'helloworld.Greeter/SayHello,echo.v1.Echo/Say,echo.v1.Echo/Get,echo.v1.Echo/Update,echo.v1.Echo/Fail,echo.v1.Echo/Expand',
  });
  await kvDelete(stack.admin, `${RPC_PREFIX}rpcServices`);
  await kvDelete(stack.admin, `${RPC_PREFIX}rpcForwardHeaders`);
});

describe('rpc function: answers equal grpcurl', () => {
  it('serves the Greeter on the generic route by the default mapping', async () => {
    const res = await callRpc('POST', '/rpc/helloworld.Greeter/SayHello', { body: { name: 'Ada' } });
    assert.equal(res.status, 200, res.raw);
    assert.deepEqual(res.body, await reference(greeterPort, 'helloworld.Greeter/SayHello', { name: 'Ada' }));
  });

  it('Say with every field shape, on the generic and the annotated route', async () => {
    const expected = await reference(echo.port, 'echo.v1.Echo/Say', RICH);
    for (const path of ['/rpc/echo.v1.Echo/Say', '/v1/echo:say']) {
      const res = await callRpc('POST', path, { body: RICH });
      assert.equal(res.status, 200, res.raw);
      assert.deepEqual(res.body, expected, path);
    }
  });

  it('Get from the path template and typed query parameters', async () => {
    const res = await callRpc(
      'GET',
      '/v1/rooms/lobby?count=2&loud=true&mood=MOOD_HAPPY&tags=a&tags=b&nested.ids=9&sent_at=2024-01-01T00:00:00Z',
    );
    assert.equal(res.status, 200, res.raw);
    const data = {
      name: 'rooms/lobby',
      count: 2,
      loud: true,
      mood: 'MOOD_HAPPY',
      tags: ['a', 'b'],
      nested: { ids: ['9'] },
      sentAt: '2024-01-01T00:00:00Z',
    };
    assert.deepEqual(res.body, await reference(echo.port, 'echo.v1.Echo/Get', data));
  });

  it('Update through its binding with a body field, and through its additional binding', async () => {
    const put = await callRpc('PUT', '/v1/users/ada/echo?message=m', { body: { note: 'x', ids: ['4'] } });
    assert.equal(put.status, 200, put.raw);
    assert.deepEqual(
      put.body,
      await reference(echo.port, 'echo.v1.Echo/Update', { userId: 'ada', message: 'm', nested: { note: 'x', ids: ['4'] } }),
    );
    const post = await callRpc('POST', '/v1/groups/g1/echo', { body: { message: 'm', loud: true } });
    assert.equal(post.status, 200, post.raw);
    assert.deepEqual(post.body, await reference(echo.port, 'echo.v1.Echo/Update', { groupId: 'g1', message: 'm', loud: true }));
  });

  it('Fail: each gRPC status as its HTTP status, the body the google.rpc.Status grpcurl prints, details included', async () => {
    const cases: [number, number][] = [
      [3, 400],
      [5, 404],
      [6, 409],
      [7, 403],
      [8, 429],
      [9, 400],
      [13, 500],
      [16, 401],
    ];
    for (const [code, http] of cases) {
      for (const withDetails of [false, true]) {
        const data = { code, message: `asked for ${code}`, withDetails };
        const res = await callRpc('POST', '/v1/echo:fail', { body: data });
        assert.equal(res.status, http, `code ${code}: ${res.raw}`);
        assert.deepEqual(res.body, await reference(echo.port, 'echo.v1.Echo/Fail', data), `code ${code} details ${withDetails}`);
        assert.doesNotMatch(res.raw, /\bat .+\.(ts|js):\d+/, 'no stack trace');
      }
    }
  });
});

describe('rpc function: exposure', () => {
  it('answers an unlisted method exactly as a method or path that does not exist: 404', async () => {
    const secret = await callRpc('POST', '/rpc/echo.v1.Echo/Secret', { body: {} });
    const missing = await callRpc('POST', '/rpc/echo.v1.Echo/NoSuchMethod', { body: {} });
    const nowhere = await callRpc('GET', '/v1/nowhere');
    assert.equal(secret.status, 404);
    assert.equal(secret.raw, missing.raw);
    assert.equal(secret.raw, nowhere.raw);
    assert.deepEqual((secret.body as { code: number }).code, 5);
    // The backend does serve it: the gateway, not the backend, refused.
    assert.equal((await grpcurl(grpcurlBin, echo.port, 'echo.v1.Echo/Secret', {})).code, 0);
  });

  it('refuses everything but the Greeter under the default allow-list', async () => {
    await kvDelete(stack.admin, `${RPC_PREFIX}rpcAllow`);
    assert.equal((await callRpc('POST', '/rpc/echo.v1.Echo/Say', { body: {} })).status, 404);
    assert.equal((await callRpc('POST', '/v1/echo:say', { body: {} })).status, 404);
    assert.equal((await callRpc('POST', '/rpc/helloworld.Greeter/SayHello', { body: { name: 'x' } })).status, 200);
  });

  it('passes only allow-listed headers on as metadata: a denied header never arrives', async () => {
    await setRpcConfig({ rpcForwardHeaders: 'x-tenant' });
    const headers = {
      'x-tenant': 't1',
      'x-other': 'o',
      authorization: 'Bearer secret',
      'x-api-key': 'k',
      'x-amzn-requestid': 'r',
      connection: 'keep-alive',
    };
    const res = await callRpc('POST', '/rpc/echo.v1.Echo/Say', { body: { echoMetadata: true }, headers });
    assert.equal(res.status, 200, res.raw);
    assert.deepEqual(arrived(res.body), { 'x-tenant': 't1' });
  });

  it('refuses a forbidden header in the allow-list: nothing is forwarded', async () => {
    await setRpcConfig({ rpcForwardHeaders: 'x-tenant,authorization' });
    const res = await callRpc('POST', '/rpc/echo.v1.Echo/Say', {
      body: { echoMetadata: true },
      headers: { authorization: 'Bearer s', 'x-tenant': 't' },
    });
    assert.equal(res.status, 200, res.raw);
    assert.deepEqual(arrived(res.body), {});
  });
});

describe('rpc function: errors of its own', () => {
  it('400 naming the field for an unknown field or a wrong type', async () => {
    for (const [body, field] of [
      [{ bogus: 1 }, 'bogus'],
      [{ count: 'many' }, 'count'],
    ] as const) {
      const res = await callRpc('POST', '/rpc/echo.v1.Echo/Say', { body });
      assert.equal(res.status, 400, res.raw);
      const details = (res.body as { details: { fieldViolations?: { field: string }[] }[] }).details;
      assert.equal(details.find((d) => d.fieldViolations)?.fieldViolations?.[0]?.field, field);
    }
  });

  it('501 for a server-streaming method, even when listed', async () => {
    const res = await callRpc('POST', '/v1/echo:expand', { body: { count: 2 } });
    assert.equal(res.status, 501, res.raw);
    assert.equal((res.body as { code: number }).code, 12);
  });

  it('503 NO_HEALTHY_INSTANCE with Retry-After when the mapped Consul service has no instance', async () => {
    await setRpcConfig({ rpcServices: JSON.stringify({ 'echo.v1.Echo': { service: 'echo-missing' } }), coldStartWaitMs: '300' });
    const res = await callRpc('POST', '/rpc/echo.v1.Echo/Say', { body: {} });
    await setRpcConfig({ coldStartWaitMs: '5000' });
    assert.equal(res.status, 503, res.raw);
    assert.equal(res.headers['retry-after'], '1');
    assert.equal((res.body as { details: { reason?: string }[] }).details[0]?.reason, 'NO_HEALTHY_INSTANCE');
  });
});

describe('rpc function: metrics', () => {
  it("counts RpcFailures only for calls the route could not serve, not the caller's mistakes or a backend's own status", async () => {
    process.env.POWERTOOLS_METRICS_NAMESPACE = 'consul-grpc-lambda-test';
    rpcRuntime.reset();
    const statuses: number[] = [];
    const call = async (method: string, path: string, body: unknown) => statuses.push((await callRpc(method, path, { body })).status);
    const { output } = await captureOutput(async () => {
      try {
        await call('POST', '/rpc/helloworld.Greeter/SayHello', { name: 'm' });
        await call('POST', '/rpc/echo.v1.Echo/Secret', {});
        await call('POST', '/rpc/echo.v1.Echo/Say', { bogus: 1 });
        await call('POST', '/v1/echo:fail', { code: 13, message: 'internal' });
        rpcRuntime.get().metrics.flush(true);
        // A second environment, whose Echo is mapped to a service without instances.
        await setRpcConfig({ rpcServices: JSON.stringify({ 'echo.v1.Echo': { service: 'echo-missing' } }), coldStartWaitMs: '300' });
        rpcRuntime.reset();
        await call('POST', '/rpc/echo.v1.Echo/Say', {});
        rpcRuntime.get().metrics.flush(true);
      } finally {
        delete process.env.POWERTOOLS_METRICS_NAMESPACE;
        await setRpcConfig({ coldStartWaitMs: '5000' });
      }
    });
    assert.deepEqual(statuses, [200, 404, 400, 500, 503]);
    const lines = output
      .split('\n')
      .filter((l) => l.startsWith('{"_aws"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const sum = (name: string) => lines.reduce((n, l) => n + (typeof l[name] === 'number' ? l[name] : 0), 0);
    const values = (name: string) => lines.flatMap((l) => (l[name] === undefined ? [] : [l[name]].flat()));
    assert.equal(sum('RpcErrors'), 4, output);
    assert.equal(sum('RpcFailures'), 1, 'only the 503: no passing instance');
    assert.equal(values('RpcLatency').length, 1, 'one latency value per served call');
  });
});

describe('rpc function: deadlines', () => {
  it("504 DEADLINE_EXCEEDED within the Lambda's remaining time, less the margin", async () => {
    await setRpcConfig({ rpcServices: JSON.stringify({ 'helloworld.Greeter': { service: 'greeter-slow' } }), deadlineMarginMs: '250' });
    try {
      // A first call discovers the slow instance (and times out after callDeadlineMs).
      await callRpc('POST', '/rpc/helloworld.Greeter/SayHello', { body: { name: 'warm' } });
      const res = await callRpc('POST', '/rpc/helloworld.Greeter/SayHello', { body: { name: 'Ada' }, remainingMs: 800 });
      assert.equal(res.status, 504, res.raw);
      const body = res.body as { message: string; details: { reason?: string }[] };
      assert.equal(body.details[0]?.reason, 'DEADLINE_EXCEEDED');
      // The budget is the remaining time less the margin (at most 550 ms), not callDeadlineMs (2 s).
      const budget = Number(/within (\d+) ms/.exec(body.message)?.[1]);
      assert.ok(budget > 0 && budget <= 550, body.message);
    } finally {
      await kvDelete(stack.admin, `${RPC_PREFIX}deadlineMarginMs`);
    }
  });
});

describe('rpc function: retries follow idempotency_level', () => {
  it('hedges NO_SIDE_EFFECTS and IDEMPOTENT methods past an instance that answers UNAVAILABLE, and gives any other method one attempt', async () => {
    // No ejection: the bad instance stays in rotation, so every call may meet it.
    await setRpcConfig({ rpcServices: JSON.stringify({ 'echo.v1.Echo': { service: 'echo-flaky' } }), ejectionMinRequests: '10000' });
    try {
      // Say has no idempotency level: the bad instance's UNAVAILABLE is the answer (round robin reaches it soon).
      await eventually(
        async () => (await callRpc('POST', '/rpc/echo.v1.Echo/Say', { body: {} })).status === 503,
        10_000,
        'a Say routed to the failing instance answered 503',
      );
      for (let i = 0; i < 20; i++) {
        const get = await callRpc('GET', `/v1/rooms/r${i}`);
        assert.equal(get.status, 200, get.raw);
        assert.equal((get.body as { servedBy: string }).servedBy, 'echo-flaky-good');
        const update = await callRpc('POST', `/v1/groups/g${i}/echo`, { body: {} });
        assert.equal(update.status, 200, update.raw);
      }
    } finally {
      await kvDelete(stack.admin, `${RPC_PREFIX}ejectionMinRequests`);
    }
  });
});

describe('rpc function: server reflection (rpcReflection)', () => {
  const extra = JSON.stringify({ 'extra.v1.Extra': { service: 'echo' } });
  const allow = 'echo.v1.Echo/Say,extra.v1.Extra/Ping';

  it('off by default: a service proto/ does not ship answers 404, allowed or not', async () => {
    await setRpcConfig({ rpcServices: extra, rpcAllow: allow });
    const res = await callRpc('POST', '/rpc/extra.v1.Extra/Ping', { body: { text: 'hi' } });
    assert.equal(res.status, 404, res.raw);
  });

  it('on: learns an allowed service from its backend once per environment, its idempotency level included', async () => {
    await setRpcConfig({ rpcServices: extra, rpcAllow: allow, rpcReflection: 'true' });
    try {
      const data = { text: 'reflected', at: '2024-03-01T10:00:00.250Z' };
      const { result: first, logLines } = await captureOutput(() => callRpc('POST', '/rpc/extra.v1.Extra/Ping', { body: data }));
      assert.equal(first.status, 200, first.raw);
      assert.deepEqual(first.body, await reference(echo.port, 'extra.v1.Extra/Ping', data));
      const line = logLines
        .map((l) => JSON.parse(l) as { message: string; ms?: number; files?: number })
        .find((l) => l.message === 'server reflection');
      assert.ok(line && line.files === 1, `reflection logged: ${JSON.stringify(line)}`);
      console.error(`server reflection on the cold start: ${line.ms} ms for 1 service`);
      // Warm: no second reflection, the learnt method still served.
      const again = await callRpc('POST', '/rpc/extra.v1.Extra/Ping', { body: { text: 'again' } });
      assert.equal(again.status, 200, again.raw);
      assert.equal(rpcRuntime.get().descriptors.method('extra.v1.Extra', 'Ping')?.idempotent, true);
      // Never for a service off the list.
      assert.equal(rpcRuntime.get().descriptors.registry.getService('grpc.reflection.v1alpha.ServerReflection'), undefined);
    } finally {
      await kvDelete(stack.admin, `${RPC_PREFIX}rpcReflection`);
    }
  });
});

describe('rpc function: a Connect-native Echo', () => {
  async function intention(action: 'allow' | 'deny'): Promise<void> {
    await stack.admin.request(
      'test.intention',
      { timeoutMs: 5_000 },
      {
        method: 'PUT',
        path: '/connect/intentions/exact',
        query: { source: RPC_LEASE_SERVICE, destination: 'echo-native' },
        body: { Action: action },
      },
    );
  }

  it('calls it over mTLS as the lease identity when an intention allows, 403 INTENTION_DENIED when one denies', async () => {
    await setRpcConfig({ rpcServices: JSON.stringify({ 'echo.v1.Echo': { service: 'echo-native', transport: 'connect' } }) });
    await intention('allow');
    const ok = await callRpc('POST', '/rpc/echo.v1.Echo/Say', { body: { message: 'over mtls' } });
    assert.equal(ok.status, 200, ok.raw);
    assert.equal((ok.body as { servedBy: string }).servedBy, 'echo-native-1');
    await intention('deny');
    await eventually(
      async () => (await callRpc('POST', '/rpc/echo.v1.Echo/Say', { body: {} })).status === 403,
      10_000,
      'a deny intention answered 403',
    );
    const denied = await callRpc('POST', '/rpc/echo.v1.Echo/Say', { body: {} });
    assert.equal((denied.body as { details: { reason?: string }[] }).details[0]?.reason, 'INTENTION_DENIED');
  });
});
