// Issue 10 part 3, "a registry that cannot be abused", on real parts: serverless-offline (API keys on)
// and a real Consul with ACLs, configured with the local stack's prefix `ephemeral-` plus the harder
// case of an operator who opened the routed `greeter` by its exact name. Each attacker of
// docs/pending/registry-threat-model.md tries what they could: a public caller, an API-key holder, a
// stolen registry Consul token.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { registryPolicies } from '../../scripts/stack/acl-admin';
import { registryToken as makeRegistryToken } from '../../scripts/stack/tokens';
import { deregisterService, registerTtlService } from '../../lib/consul/agent';
import { createConsulApi, type ConsulApi } from '../../lib/consul/consul-api';
import { ConsulRequestError } from '../../lib/consul/errors';
import { REGISTRY_KEYS } from '../../lib/registry/registry-config';
import { seedDefaultConfig } from '../../scripts/stack/seed-config';
import { eventually, passingIds, startTestStack, type TestStack } from './harness';
import { startOfflineApi, type ApiCallOptions, type OfflineApi } from './offline-api';

const REGISTRY_PREFIX = 'config/instance-registry/local/';
// The registry's prefixes and exact names, as the config and the token both get them.
const PREFIXES = ['ephemeral-'];
const SERVICES = ['greeter'];
// A backend the registry did not register, with an id of the registry's form (so only ownership stops a DELETE).
const BACKEND_ID = 'greeter-00000000000000aa';
let stack: TestStack;
let offline: OfflineApi | undefined;
let registryApi: ConsulApi;
let gatewayApi: ConsulApi;

const call = (method: string, path: string, opts?: ApiCallOptions) => offline!.call(method, path, opts);
const register = (service: string, port = 8080) => call('POST', '/instances', { body: { service, address: '127.0.0.1', port } });
const code = (r: { body: Record<string, unknown> }) => (r.body.error as { code?: string } | undefined)?.code;
const consul403 = (e: unknown) => e instanceof ConsulRequestError && e.statusCode === 403;
const catalogNames = async () =>
  Object.keys(
    (await fetch(`http://${stack.consul.address}/v1/catalog/services`, {
      headers: { 'x-consul-token': stack.consul.managementToken },
    }).then((r) => r.json())) as Record<string, string[]>,
  );

before(async () => {
  stack = await startTestStack('config/greeter-gateway/local/');
  await seedDefaultConfig(stack.admin, stack.prefix);
  await seedDefaultConfig(stack.admin, REGISTRY_PREFIX, REGISTRY_KEYS, {
    allowedServicePrefixes: PREFIXES.join(','),
    allowedServices: SERVICES.join(','),
    allowedCidrs: '127.0.0.0/8,10.0.0.0/8',
    allowLoopback: 'true',
  });
  await stack.addGreeter({ id: BACKEND_ID });
  const registryToken = await makeRegistryToken(stack.admin, REGISTRY_PREFIX, registryPolicies(PREFIXES, SERVICES));
  registryApi = createConsulApi({ address: stack.consul.address, token: registryToken });
  gatewayApi = createConsulApi({ address: stack.consul.address, token: stack.gatewayToken });
  offline = await startOfflineApi(stack, registryToken);
});
after(async () => {
  registryApi?.destroy();
  gatewayApi?.destroy();
  await offline?.stop();
  await stack?.stop();
});

describe('registry abuse: public caller', () => {
  it('gets 403 on every registry route without a valid API key', async () => {
    const id = 'ephemeral-job-0123456789abcdef';
    for (const [method, path] of [
      ['POST', '/instances'],
      ['GET', '/instances?service=ephemeral-job'],
      ['PUT', `/instances/${id}/heartbeat`],
      ['DELETE', `/instances/${id}`],
    ] as const) {
      assert.equal(
        (
          await call(method, path, {
            noKey: true,
            body: method === 'POST' ? { service: 'ephemeral-job', address: '10.0.0.1', port: 1 } : undefined,
          })
        ).status,
        403,
        `${method} ${path}`,
      );
      assert.equal((await call(method, path, { headers: { 'x-api-key': 'wrong' } })).status, 403, `${method} ${path} with a wrong key`);
    }
  });
});

describe('registry abuse: API-key holder', () => {
  it('cannot register a lease service, a name sharing the routed prefix, or anything outside its names (400, nothing in Consul)', async () => {
    for (const service of [
      'greeter-gateway-lambda',
      'instance-registry-lambda',
      'health-sync-lambda',
      'ephemeral-job-lambda',
      'greeterx',
      'greeter-2',
    ]) {
      const r = await register(service);
      assert.equal(r.status, 400, `${service} → ${r.text}`);
      assert.equal(code(r), 'INVALID_INPUT');
    }
    const names = await catalogNames();
    for (const service of ['greeter-gateway-lambda', 'ephemeral-job-lambda', 'greeterx', 'greeter-2'])
      assert.ok(!names.includes(service), `${service} reached Consul`);
  });

  it('cannot list a service it could not register', async () => {
    for (const service of ['greeter-gateway-lambda', 'instance-registry-lambda', 'greeterx'])
      assert.equal((await call('GET', `/instances?service=${service}`)).status, 400, service);
    assert.equal((await call('GET', '/instances?service=greeter')).status, 200, 'greeter is opened by its exact name');
  });

  it("cannot renew or remove a Greeter it did not register, nor another holder's", async () => {
    const r = await register('greeter');
    assert.equal(r.status, 201, r.text);
    const mine = { id: String(r.body.id), token: String(r.body.leaseToken) };
    const theirs = (await register('greeter', 8081)).body as { id: string; leaseToken: string };
    // The agent-registered backend: not the registry's, so not found, whatever token.
    assert.equal((await call('DELETE', `/instances/${BACKEND_ID}`, { headers: { 'x-lease-token': mine.token } })).status, 404);
    assert.equal((await call('PUT', `/instances/${BACKEND_ID}/heartbeat`, { headers: { 'x-lease-token': mine.token } })).status, 404);
    // Another holder's instance of the same service: Consul cannot tell holders apart, the lease token does.
    assert.equal((await call('DELETE', `/instances/${theirs.id}`, { headers: { 'x-lease-token': mine.token } })).status, 403);
    assert.equal((await call('PUT', `/instances/${theirs.id}/heartbeat`, { headers: { 'x-lease-token': mine.token } })).status, 403);
    assert.ok((await passingIds(stack.admin, 'greeter')).includes(BACKEND_ID), 'the backend is still registered');
    for (const inst of [mine, { id: theirs.id, token: theirs.leaseToken }])
      assert.equal((await call('DELETE', `/instances/${inst.id}`, { headers: { 'x-lease-token': inst.token } })).status, 204);
  });
});

describe("registry abuse: stolen registry Consul token (Consul's ACLs, no API in between)", () => {
  const lease = { ttl: '30s', deregisterCriticalServiceAfter: '1m', address: '127.0.0.1', port: 1 };

  it('cannot register a lease or a greeter-prefixed service', async () => {
    for (const name of ['greeter-gateway-lambda', 'health-sync-lambda', 'greeterx', 'greeter-2']) {
      await assert.rejects(registerTtlService(registryApi, { id: `${name}-stolen`, name, ...lease }), consul403, name);
    }
  });

  it("cannot remove the gateway's lease", async () => {
    await registerTtlService(gatewayApi, { id: 'greeter-gateway-lambda-env1', name: 'greeter-gateway-lambda', ...lease });
    await assert.rejects(deregisterService(registryApi, 'greeter-gateway-lambda-env1'), consul403);
    await eventually(
      async () => (await passingIds(stack.admin, 'greeter-gateway-lambda')).includes('greeter-gateway-lambda-env1'),
      5_000,
      'the lease to stay registered',
    );
    await deregisterService(gatewayApi, 'greeter-gateway-lambda-env1');
  });

  it('without greeter in allowedServices, cannot remove a Greeter backend either', async () => {
    const narrow = await makeRegistryToken(stack.admin, REGISTRY_PREFIX, registryPolicies(PREFIXES));
    const api = createConsulApi({ address: stack.consul.address, token: narrow });
    try {
      await assert.rejects(deregisterService(api, BACKEND_ID), consul403);
      assert.ok((await passingIds(stack.admin, 'greeter')).includes(BACKEND_ID));
    } finally {
      api.destroy();
    }
  });
});
