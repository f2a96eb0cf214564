// The generic route over HTTP: the real Serverless CLI with serverless-offline (the packaged routes of
// serverless.yml: POST /rpc/{service}/{method} and the catch-all that carries the google.api.http
// routes), real Consul (ACLs on), a real Greeter and a real Echo; grpcurl answers the same calls.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { kvPut } from '../../lib/consul/kv';
import { ensureGrpcurlBinary } from '../../scripts/grpcurl-binary';
import { stopProcess } from '../../scripts/stack/processes';
import { seedDefaultConfig } from '../../scripts/stack/seed-config';
import { eventually, passingIds, startTestStack, type TestStack } from './harness';
import { startOfflineApi, type OfflineApi } from './offline-api';
import { grpcurl, provisionRpcToken, startEcho, type EchoBackend } from './rpc-support';
import { echoBackendToken } from '../../scripts/stack/tokens';

const PREFIX = 'config/rpc-gateway/local/';
let stack: TestStack;
let offline: OfflineApi | undefined;
let echo: EchoBackend | undefined;
let grpcurlBin: string;

const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
  offline!.call(method, path, { noKey: true, ...(body === undefined ? {} : { body }), ...(headers ? { headers } : {}) });

async function reference(method: string, data: unknown): Promise<unknown> {
  const res = await grpcurl(grpcurlBin, echo!.port, method, data);
  const out = res.code === 0 ? res.stdout : res.stderr;
  assert.ok(out.trim().startsWith('{'), `grpcurl ${method} exited ${res.code}: ${res.stderr}`);
  return JSON.parse(out) as unknown;
}

before(async () => {
  grpcurlBin = ensureGrpcurlBinary((line) => console.error(line));
  stack = await startTestStack('config/greeter-gateway/local/');
  await seedDefaultConfig(stack.admin, stack.prefix);
  await stack.addGreeter({ id: 'rpc-offline-greeter' });
  echo = await startEcho({
    consulAddress: stack.consul.address,
    token: await echoBackendToken(stack.admin, ['echo']),
    id: 'echo-offline-1',
  });
  await eventually(async () => (await passingIds(stack.admin, 'echo')).includes('echo-offline-1'), 15_000, 'echo passing in Consul');
  const rpcToken = await provisionRpcToken(stack.admin, ['greeter', 'echo'], PREFIX);
  for (const [k, v] of Object.entries({
    rpcAllow: 'helloworld.Greeter/SayHello,echo.v1.Echo/Say,echo.v1.Echo/Get,echo.v1.Echo/Fail,echo.v1.Echo/Expand',
    rpcForwardHeaders: 'x-tenant',
    coldStartWaitMs: '5000',
  }))
    await kvPut(stack.admin, `${PREFIX}${k}`, v);
  offline = await startOfflineApi(stack, '', { RPC_GATEWAY_CONSUL_TOKEN: rpcToken });
});
after(async () => {
  await offline?.stop();
  if (echo) await stopProcess(echo.process, 'SIGKILL');
  await stack?.stop();
});

describe('rpc through serverless-offline', () => {
  it('keeps the Greeter routes of greet beside the catch-all, and serves the Greeter on /rpc too', async () => {
    const hello = await call('GET', '/hello/Ada');
    assert.equal(hello.status, 200, hello.text);
    assert.match(String(hello.body.message), /Hello, Ada!/);
    const rpc = await call('POST', '/rpc/helloworld.Greeter/SayHello', { name: 'Ada' });
    assert.equal(rpc.status, 200, rpc.text);
    assert.match(String(rpc.body.message), /^Hello, Ada! \(from rpc-offline-greeter\)$/);
  });

  it('answers what grpcurl answers: the generic route, a path template with a query, an error with details', async () => {
    const say = {
      message: 'hi',
      big: '-42',
      mood: 'MOOD_HAPPY',
      scores: { a: 1 },
      sentAt: '2024-01-01T00:00:00Z',
      payload: 'AQI=',
      userId: 'u',
    };
    const a = await call('POST', '/rpc/echo.v1.Echo/Say', say);
    assert.equal(a.status, 200, a.text);
    assert.deepEqual(a.body, await reference('echo.v1.Echo/Say', say));
    const b = await call('GET', '/v1/rooms/lobby?count=2&tags=a&tags=b');
    assert.equal(b.status, 200, b.text);
    assert.deepEqual(b.body, await reference('echo.v1.Echo/Get', { name: 'rooms/lobby', count: 2, tags: ['a', 'b'] }));
    const fail = { code: 5, message: 'gone', withDetails: true };
    const c = await call('POST', '/v1/echo:fail', fail);
    assert.equal(c.status, 404, c.text);
    assert.deepEqual(c.body, await reference('echo.v1.Echo/Fail', fail));
  });

  it('answers an unlisted method as a path that leads nowhere, and a streaming method 501', async () => {
    const secret = await call('POST', '/rpc/echo.v1.Echo/Secret', {});
    const nowhere = await call('GET', '/nowhere/at/all');
    assert.equal(secret.status, 404, secret.text);
    assert.equal(secret.text, nowhere.text);
    const stream = await call('POST', '/v1/echo:expand', { count: 2 });
    assert.equal(stream.status, 501, stream.text);
  });

  it('passes the listed header on over HTTP, and never authorization or x-api-key', async () => {
    const headers = { 'x-tenant': 't9', authorization: 'Bearer secret', 'x-api-key': 'key', 'x-other': 'o' };
    const res = await call('POST', '/rpc/echo.v1.Echo/Say', { echoMetadata: true }, headers);
    assert.equal(res.status, 200, res.text);
    const md = (res.body as { metadata?: Record<string, string> }).metadata ?? {};
    assert.equal(md['x-tenant'], 't9');
    for (const h of ['authorization', 'x-api-key', 'x-other']) assert.equal(md[h], undefined, h);
  });
});
