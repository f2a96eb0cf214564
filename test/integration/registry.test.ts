// The instance registry end to end over HTTP: serverless-offline (API keys on),
// real Consul with ACLs, a real Greeter backend registered through the API.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { registryPolicies } from '../../scripts/stack/acl-admin';
import { registryToken as makeRegistryToken } from '../../scripts/stack/tokens';
import { createConsulApi } from '../../lib/consul/consul-api';
import { ConsulRequestError } from '../../lib/consul/errors';
import { kvPut } from '../../lib/consul/kv';
import { REGISTRY_KEYS } from '../../lib/registry/registry-config';
import { seedDefaultConfig } from '../../scripts/stack/seed-config';
import { eventually, startTestStack, type TestStack } from './harness';
import { startOfflineApi, type ApiCallOptions, type OfflineApi } from './offline-api';

const REGISTRY_PREFIX = 'config/instance-registry/local/';
let stack: TestStack;
let offline: OfflineApi | undefined;
let registryToken: string;

const call = (method: string, path: string, opts?: ApiCallOptions) => offline!.call(method, path, opts);
const register = (body: unknown, headers?: Record<string, string>) => call('POST', '/instances', { body, headers });
const code = (r: { body: Record<string, unknown> }) => (r.body.error as { code?: string } | undefined)?.code;
const base = { service: 'ephemeral-job', address: '10.1.2.3', port: 8080 };

before(async () => {
  stack = await startTestStack('config/greeter-gateway/local/');
  const admin = createConsulApi({ address: stack.consul.address, token: stack.consul.managementToken });
  await seedDefaultConfig(admin, stack.prefix, undefined, { greeterTag: 'ephemeral' });
  await seedDefaultConfig(admin, REGISTRY_PREFIX, REGISTRY_KEYS, {
    allowedServicePrefixes: 'ephemeral-,rogue-',
    // greeter takes /hello's traffic: opened by its exact name only (registry-abuse.test.ts tries the rest).
    allowedServices: 'greeter',
    allowedCidrs: '10.0.0.0/8,127.0.0.0/8,169.254.0.0/16',
    allowLoopback: 'true',
    ttlMinSeconds: '5',
  });
  admin.destroy();
  // The token knows only one of the two prefixes the config allows (and greeter): Consul has the last word.
  registryToken = await makeRegistryToken(stack.admin, REGISTRY_PREFIX, registryPolicies(['ephemeral-'], ['greeter']));
  offline = await startOfflineApi(stack, registryToken);
});
after(async () => {
  await offline?.stop();
  await stack?.stop();
});

describe('registration API', () => {
  it('rejects requests without a valid API key', async () => {
    assert.equal((await call('GET', '/instances?service=ephemeral-job', { noKey: true })).status, 403);
    assert.equal((await call('GET', '/instances?service=ephemeral-job', { headers: { 'x-api-key': 'wrong' } })).status, 403);
  });

  it('registers, lists, renews and deletes an instance for the lease holder only', async () => {
    const r = await register({ ...base, tags: ['batch'], meta: { owner: 'ci' }, ttl: '30s' });
    assert.equal(r.status, 201, r.text);
    const { id, leaseToken, expiresAt } = r.body as { id: string; leaseToken: string; expiresAt: string };
    assert.match(id, /^ephemeral-job-[0-9a-f]{16}$/);
    assert.ok(Date.parse(expiresAt) > Date.now() + 25_000);
    const other = (await register({ ...base, port: 8081 })).body as { id: string; leaseToken: string };

    const list = await call('GET', '/instances?service=ephemeral-job');
    const mine = (list.body.instances as { id: string; status: string; tags: string[] }[]).find((i) => i.id === id);
    assert.equal(mine?.status, 'passing');
    assert.deepEqual(mine?.tags, ['batch']);

    const hb = (token?: string, target = id) =>
      call('PUT', `/instances/${target}/heartbeat`, { headers: token ? { 'x-lease-token': token } : {} });
    assert.equal((await hb(leaseToken)).status, 200);
    assert.equal((await hb()).status, 403);
    assert.equal((await hb('v1.AAAA')).status, 403);
    assert.equal((await hb(other.leaseToken)).status, 403, "another instance's token");
    assert.equal((await hb(leaseToken, 'ephemeral-job-0123456789abcdef')).status, 404);
    assert.equal((await hb(leaseToken, 'not_an_id')).status, 400);

    assert.equal((await call('DELETE', `/instances/${id}`, { headers: { 'x-lease-token': other.leaseToken } })).status, 403);
    assert.equal((await call('DELETE', `/instances/${id}`, { headers: { 'x-lease-token': leaseToken } })).status, 204);
    assert.equal((await hb(leaseToken)).status, 404);
    const after = await call('GET', '/instances?service=ephemeral-job');
    assert.ok(!(after.body.instances as { id: string }[]).some((i) => i.id === id));
  });

  it('returns the same instance for a retried POST with the same Idempotency-Key', async () => {
    const key = randomBytes(8).toString('hex');
    const a = await register({ ...base, port: 9000 }, { 'idempotency-key': key });
    const b = await register({ ...base, port: 9000 }, { 'idempotency-key': key });
    assert.equal(a.status, 201);
    assert.equal(b.body.id, a.body.id);
    const c = await register({ ...base, port: 9001 }, { 'idempotency-key': key });
    assert.equal(c.status, 422);
    assert.equal((await register({ ...base, port: 9002 }, { 'idempotency-key': 'short' })).status, 400, 'guessable keys are refused');
    // Once the instance is gone, a retry registers a new one instead of returning a dead id.
    await call('DELETE', `/instances/${String(a.body.id)}`, { headers: { 'x-lease-token': String(a.body.leaseToken) } });
    const d = await register({ ...base, port: 9000 }, { 'idempotency-key': key });
    assert.equal(d.status, 201);
    assert.notEqual(d.body.id, a.body.id);
    const list = (await call('GET', '/instances?service=ephemeral-job')).body.instances as { port: number; meta: Record<string, string> }[];
    assert.equal(list.filter((i) => i.port === 9000).length, 1);
    assert.ok(
      list.every((i) => !Object.keys(i.meta).some((k) => k.startsWith('lease-'))),
      'server meta stays private',
    );
  });

  it('rejects bad registrations with a clear 400 (or 413)', async () => {
    const cases: [unknown, RegExp][] = [
      [{ ...base, service: 'billing' }, /start with/],
      [{ ...base, service: 'Ephemeral_Job' }, /service/],
      [{ ...base, address: '169.254.169.254' }, /address/],
      [{ ...base, address: 'example.com' }, /address/],
      [{ ...base, address: '8.8.8.8' }, /address/],
      [{ ...base, port: 0 }, /port/],
      [{ ...base, port: 70000 }, /port/],
      [{ ...base, ttl: '1s' }, /ttl/],
      [{ ...base, ttl: '2h' }, /ttl/],
      [{ ...base, tags: Array.from({ length: 17 }, (_, i) => `t${i}`) }, /tags/],
      [{ ...base, meta: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) }, /meta/],
      [{ ...base, meta: { 'bad key': 'v' } }, /meta/],
      [{ ...base, meta: { 'lease-check': 'x' } }, /meta|reserved/],
      [{ ...base, admin: true }, /admin/],
    ];
    for (const [body, message] of cases) {
      const r = await register(body);
      assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 80)} → ${r.text}`);
      assert.equal(code(r), 'INVALID_INPUT');
      assert.match(String((r.body.error as { message: string }).message), message);
    }
    assert.equal((await call('POST', '/instances', { raw: '{"service":' })).status, 400);
    assert.equal((await call('POST', '/instances', { raw: JSON.stringify({ ...base, meta: { a: 'x'.repeat(20_000) } }) })).status, 413);
    assert.equal((await call('GET', '/instances')).status, 400);
  });

  it('lets Consul refuse a prefix the token does not hold, and says 403', async () => {
    const r = await register({ ...base, service: 'rogue-job' });
    assert.equal(r.status, 403, r.text);
    const api = createConsulApi({ address: stack.consul.address, token: registryToken });
    try {
      await assert.rejects(
        kvPut(api, `${stack.prefix}maxAttempts`, '1'),
        (e: unknown) => e instanceof ConsulRequestError && e.statusCode === 403,
      );
    } finally {
      api.destroy();
    }
  });

  it('lets a TTL instance turn critical when its holder stops renewing', async () => {
    const r = await register({ ...base, port: 9100, ttl: '5s' });
    assert.equal(r.status, 201, r.text);
    const id = String(r.body.id);
    await eventually(
      async () => {
        const list = (await call('GET', '/instances?service=ephemeral-job')).body.instances as { id: string; status: string }[];
        return list.find((i) => i.id === id)?.status === 'critical';
      },
      9_000,
      'the instance to turn critical',
    );
  });

  it('makes a registered Greeter discoverable by greet once healthy', async () => {
    const g = await stack.addGreeterUnregistered({ id: 'api-greeter' });
    const r = await register({ service: 'greeter', address: '127.0.0.1', port: g.port, tags: ['ephemeral'] });
    assert.equal(r.status, 201, r.text);
    await eventually(
      async () => {
        const res = await call('GET', '/hello/Ada', { noKey: true });
        return res.status === 200 && (res.body.servedBy as { id?: string } | undefined)?.id === r.body.id;
      },
      10_000,
      'greet to route to the API-registered instance',
    );
  });
});
