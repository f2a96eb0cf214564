// The `instances` function's edge: a request it will refuse anyway costs no Consul round trip, and a
// Consul address it cannot use answers 500 MISCONFIGURED, not INTERNAL. A plain TCP listener stands
// where Consul would be and only counts connections; it answers nothing. A closed port stands for a
// Consul that refuses: a request that reached it would answer 503.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { handler, runtime } from '../../../functions/instances';

let listener: Server;
let port = 0;
let connections = 0;
const sockets = new Set<Socket>();
const saved = { ...process.env };

const context = { getRemainingTimeInMillis: () => 10_000 } as unknown as Context;
const event = (httpMethod: string, resource: string, extra: Partial<APIGatewayProxyEvent> = {}) =>
  ({
    httpMethod,
    resource,
    path: resource,
    headers: {},
    body: null,
    pathParameters: null,
    queryStringParameters: null,
    requestContext: {},
    ...extra,
  }) as unknown as APIGatewayProxyEvent;
/** An address nothing listens on: connections to it are refused at once. */
async function closedAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = `127.0.0.1:${(server.address() as { port: number }).port}`;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address;
}
const body = (r: { body?: string }) => JSON.parse(r.body ?? '{}') as { error?: { code?: string } };

before(async () => {
  listener = createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  port = (listener.address() as { port: number }).port;
  Object.assign(process.env, {
    CONSUL_HTTP_TOKEN: 'unit-test-token',
    REGISTRY_SIGNING_KEY: 'k'.repeat(48),
    CONFIG_PREFIX: 'config/instance-registry/unit/',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
});

afterEach(() => runtime.reset());

after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => listener.close(() => resolve()));
  process.env = saved;
});

describe('instances handler routing', () => {
  it('answers a wrong method 405 without a single connection to Consul', async () => {
    process.env.CONSUL_HTTP_ADDR = `127.0.0.1:${port}`;
    for (const [method, resource] of [
      ['PATCH', '/instances'],
      ['GET', '/instances/{id}/heartbeat'],
      ['POST', '/instances/{id}'],
      ['GET', '/elsewhere'],
      ['TOSTRING', 'x'],
    ]) {
      const r = await handler(event(method!, resource!), context);
      assert.equal(r.statusCode, 405, `${method} ${resource}`);
      assert.equal(body(r).error?.code, 'METHOD_NOT_ALLOWED');
    }
    assert.equal(connections, 0, 'no Consul connection for a request that is refused anyway');
  });

  it('answers a wrong method 405, not 503, when Consul refuses every connection', async () => {
    process.env.CONSUL_HTTP_ADDR = await closedAddress();
    const wrong = await handler(event('PATCH', '/instances'), context);
    assert.equal(wrong.statusCode, 405);
    assert.equal(body(wrong).error?.code, 'METHOD_NOT_ALLOWED');
    // The same Consul, for a request that is routed: it does reach Consul, and Consul's refusal shows.
    const routed = await handler(event('GET', '/instances', { queryStringParameters: { service: 'ephemeral-job' } }), context);
    assert.equal(routed.statusCode, 503);
    assert.equal(body(routed).error?.code, 'CONSUL_UNAVAILABLE');
  });

  it('refuses a malformed body 400 before any Consul call', async () => {
    process.env.CONSUL_HTTP_ADDR = `127.0.0.1:${port}`;
    const r = await handler(event('POST', '/instances', { headers: { 'content-type': 'application/json' }, body: '{"service":' }), context);
    assert.equal(r.statusCode, 400);
    assert.equal(body(r).error?.code, 'INVALID_INPUT');
    assert.equal(connections, 0);
  });

  it('refuses a malformed instance id 400 before any Consul call', async () => {
    process.env.CONSUL_HTTP_ADDR = `127.0.0.1:${port}`;
    const r = await handler(event('DELETE', '/instances/{id}', { pathParameters: { id: '../../v1/acl' } }), context);
    assert.equal(r.statusCode, 400);
    assert.equal(connections, 0);
  });
});

describe('instances handler with an unusable Consul address', () => {
  it('answers a mixed http/https list 500 MISCONFIGURED, not INTERNAL', async () => {
    for (const addr of [`https://127.0.0.1:${port},127.0.0.1:${port}`, `http://127.0.0.1:${port},https://127.0.0.1:${port}`]) {
      process.env.CONSUL_HTTP_ADDR = addr;
      const r = await handler(event('GET', '/instances', { queryStringParameters: { service: 'ephemeral-job' } }), context);
      assert.equal(r.statusCode, 500, addr);
      assert.equal(body(r).error?.code, 'MISCONFIGURED', addr);
      runtime.reset();
    }
    assert.equal(connections, 0);
  });
});
