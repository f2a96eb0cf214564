import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig } from '../../../lib/config/resolve-config';
import { ConsulRequestError } from '../../../lib/consul/errors';
import { RegistryError, type RegistryErrorKind } from '../../../lib/registry/errors';
import { IDEMPOTENCY_PREFIX } from '../../../lib/registry/idempotency';
import { deleteInstance, heartbeat, listInstances, registerInstance, type RegistryDeps } from '../../../lib/registry/instance-registry';
import { createInstanceTokenSigner } from '../../../lib/registry/instance-token';
import type { Registration } from '../../../lib/registry/registration-request';
import { REGISTRY_KEYS } from '../../../lib/registry/registry-config';
import { consulError, FakeConsul } from '../helpers/fake-consul';

const NOW = Date.parse('2024-05-01T10:00:00.000Z');
const signer = createInstanceTokenSigner('k'.repeat(32));
const TTL_REG: Registration = {
  service: 'ephemeral-job',
  address: '10.1.2.3',
  port: 8080,
  tags: ['blue'],
  meta: { owner: 'team-a' },
  ttlSeconds: 45,
  check: { type: 'ttl' },
};
const GRPC_REG: Registration = { ...TTL_REG, check: { type: 'grpc', service: 'helloworld.Greeter' } };
const IDEM = { key: 'retry-key-0123456789', caller: 'api-key-1' };

function setup(raw: Record<string, string> = {}) {
  const consul = new FakeConsul();
  const deps: RegistryDeps = { consul, signer, config: resolveConfig(REGISTRY_KEYS, raw).values, now: () => NOW };
  return { consul, deps };
}

async function rejectsWith(p: Promise<unknown>, kind: RegistryErrorKind, message?: RegExp) {
  await assert.rejects(p, (err: unknown) => err instanceof RegistryError && err.kind === kind && (!message || message.test(err.message)));
}

const idempotencyRecords = (consul: FakeConsul) => [...consul.kv.keys()].filter((k) => k.startsWith(IDEMPOTENCY_PREFIX));

describe('registerInstance', () => {
  it('registers a TTL-checked instance as passing, with its own meta and the server meta, and grants a token', async () => {
    const { consul, deps } = setup();
    const grant = await registerInstance(deps, TTL_REG);
    assert.match(grant.id, /^ephemeral-job-[0-9a-f]{16}$/);
    assert.equal(signer.verify(grant.leaseToken, grant.id, 'ephemeral-job'), true);
    assert.equal(grant.expiresAt, new Date(NOW + 45_000).toISOString());
    const svc = consul.services.get(grant.id);
    assert.deepEqual(
      { service: svc?.service, address: svc?.address, port: svc?.port, tags: svc?.tags, status: svc?.status },
      { service: 'ephemeral-job', address: '10.1.2.3', port: 8080, tags: ['blue'], status: 'passing' },
    );
    const { 'lease-owner': owner, ...meta } = svc?.meta ?? {};
    assert.deepEqual(meta, {
      owner: 'team-a',
      'lease-registered-by': 'instance-registry',
      'lease-check': 'ttl',
      'lease-ttl-seconds': '45',
    });
    assert.match(String(owner), /^[0-9a-f]{32}$/, 'a digest of the API key id, which quotas count by');
    assert.deepEqual({ ttl: svc?.check?.ttl, after: svc?.check?.deregistercriticalserviceafter }, { ttl: '45s', after: '60s' });
    assert.match(String(svc?.check?.notes), /heartbeat/);
  });

  it('registers a gRPC-checked instance as critical with the probe TTL, until the probe passes it', async () => {
    const { consul, deps } = setup({ probeTtlSeconds: '120' });
    const grant = await registerInstance(deps, GRPC_REG);
    const svc = consul.services.get(grant.id);
    assert.equal(svc?.status, 'critical');
    assert.equal(svc?.check?.ttl, '120s');
    assert.equal(svc?.meta['lease-check'], 'grpc');
    assert.equal(svc?.meta['lease-ttl-seconds'], '120');
    assert.equal(svc?.meta['lease-probe-grpc-service'], 'helloworld.Greeter');
    assert.equal(grant.expiresAt, new Date(NOW + 120_000).toISOString());
  });

  it('returns the first instance when the same caller retries with the same Idempotency-Key', async () => {
    const { consul, deps } = setup();
    const first = await registerInstance(deps, TTL_REG, IDEM);
    const again = await registerInstance(deps, TTL_REG, IDEM);
    assert.deepEqual(again, first);
    assert.equal(consul.callsOf('consul.agent.service.register').length, 1);
    assert.equal(consul.services.size, 1);
    const kvKey = idempotencyRecords(consul)[0] ?? '';
    assert.equal(consul.services.get(first.id)?.meta['lease-idempotency'], kvKey.slice(-64));
    assert.equal(kvKey.includes(IDEM.key), false, 'the client key is not readable from K/V');
  });

  it('refuses an Idempotency-Key reused for a different request, registering nothing', async () => {
    const { consul, deps } = setup();
    await registerInstance(deps, TTL_REG, IDEM);
    await rejectsWith(registerInstance(deps, { ...TTL_REG, port: 9090 }, IDEM), 'idempotency_key_reused');
    assert.equal(consul.services.size, 1);
  });

  it('scopes an Idempotency-Key to its caller', async () => {
    const { consul, deps } = setup();
    const a = await registerInstance(deps, TTL_REG, IDEM);
    const b = await registerInstance(deps, TTL_REG, { ...IDEM, caller: 'api-key-2' });
    assert.notEqual(b.id, a.id);
    assert.equal(consul.services.size, 2);
  });

  it('refuses a malformed Idempotency-Key before any Consul call', async () => {
    const { consul, deps } = setup();
    await rejectsWith(registerInstance(deps, TTL_REG, { key: 'short', caller: 'c' }), 'invalid_request', /Idempotency-Key/);
    assert.equal(consul.calls.length, 0);
  });

  it('registers anew when the instance of a remembered key is gone from Consul', async () => {
    const { consul, deps } = setup();
    const first = await registerInstance(deps, TTL_REG, IDEM);
    consul.services.delete(first.id);
    const second = await registerInstance(deps, TTL_REG, IDEM);
    assert.notEqual(second.id, first.id);
    assert.equal(consul.services.has(second.id), true);
  });

  it('releases the claimed key when the registration fails, so a retry can succeed', async () => {
    const { consul, deps } = setup();
    consul.failOn('consul.agent.service.register', consulError('consul.agent.service.register', 403, 'Permission denied'), 1);
    await assert.rejects(
      registerInstance(deps, TTL_REG, IDEM),
      (err: unknown) => err instanceof ConsulRequestError && err.kind === 'forbidden',
    );
    assert.deepEqual(idempotencyRecords(consul), []);
    const grant = await registerInstance(deps, TTL_REG, IDEM);
    assert.equal(consul.services.has(grant.id), true);
  });
});

describe('heartbeat', () => {
  it('renews the TTL check of the token holder and says when the lease now ends', async () => {
    const { consul, deps } = setup();
    const grant = await registerInstance(deps, TTL_REG);
    const svc = consul.services.get(grant.id);
    if (svc) svc.status = 'critical';
    assert.deepEqual(await heartbeat(deps, grant.id, grant.leaseToken), { id: grant.id, expiresAt: new Date(NOW + 45_000).toISOString() });
    assert.equal(consul.services.get(grant.id)?.status, 'passing');
  });

  it('answers not_found for an unknown id and for a service the registry did not make', async () => {
    const { consul, deps } = setup();
    const token = signer.sign('ephemeral-job-0123456789abcdef', 'ephemeral-job');
    await rejectsWith(heartbeat(deps, 'ephemeral-job-0123456789abcdef', token), 'not_found');
    consul.addService({ id: 'ephemeral-job-0123456789abcdef', service: 'ephemeral-job' });
    await rejectsWith(heartbeat(deps, 'ephemeral-job-0123456789abcdef', token), 'not_found');
    assert.equal(consul.callsOf('consul.agent.check.pass').length, 0);
  });

  it('answers forbidden for a missing or wrong token, changing nothing', async () => {
    const { consul, deps } = setup();
    const grant = await registerInstance(deps, TTL_REG);
    const other = await registerInstance(deps, TTL_REG);
    await rejectsWith(heartbeat(deps, grant.id, undefined), 'forbidden');
    await rejectsWith(heartbeat(deps, grant.id, other.leaseToken), 'forbidden');
    assert.equal(consul.callsOf('consul.agent.check.pass').length, 0);
  });

  it('answers health_is_probed for a gRPC-checked instance, even with its own token', async () => {
    const { consul, deps } = setup();
    const grant = await registerInstance(deps, GRPC_REG);
    await rejectsWith(heartbeat(deps, grant.id, grant.leaseToken), 'health_is_probed');
    assert.equal(consul.services.get(grant.id)?.status, 'critical');
  });
});

describe('deleteInstance', () => {
  it('deregisters the instance of the token holder and forgets its Idempotency-Key', async () => {
    const { consul, deps } = setup();
    const grant = await registerInstance(deps, TTL_REG, IDEM);
    await deleteInstance(deps, grant.id, grant.leaseToken);
    assert.equal(consul.services.has(grant.id), false);
    assert.deepEqual(idempotencyRecords(consul), []);
  });

  it('answers forbidden for a wrong token and keeps the instance', async () => {
    const { consul, deps } = setup();
    const grant = await registerInstance(deps, TTL_REG);
    await rejectsWith(deleteInstance(deps, grant.id, 'v1.not-the-token'), 'forbidden');
    assert.equal(consul.services.has(grant.id), true);
  });

  it('answers not_found for an unknown id', async () => {
    const { deps } = setup();
    await rejectsWith(deleteInstance(deps, 'ephemeral-job-0123456789abcdef', undefined), 'not_found');
  });
});

describe('listInstances', () => {
  it("lists a service's instances with their health, hiding the server's lease-* meta", async () => {
    const { deps } = setup();
    const ttl = await registerInstance(deps, TTL_REG);
    const grpc = await registerInstance(deps, { ...GRPC_REG, address: '10.1.2.4' });
    const list = await listInstances(deps, 'ephemeral-job');
    assert.deepEqual(list, [
      {
        id: ttl.id,
        service: 'ephemeral-job',
        address: '10.1.2.3',
        port: 8080,
        tags: ['blue'],
        meta: { owner: 'team-a' },
        status: 'passing',
      },
      {
        id: grpc.id,
        service: 'ephemeral-job',
        address: '10.1.2.4',
        port: 8080,
        tags: ['blue'],
        meta: { owner: 'team-a' },
        status: 'critical',
      },
    ]);
  });

  it('lists an unknown service as empty', async () => {
    const { deps } = setup();
    assert.deepEqual(await listInstances(deps, 'ephemeral-none'), []);
  });
});

describe('registry Consul budget', () => {
  it('gives every Consul call of every operation the budget in deps.timeoutMs', async () => {
    const { consul, deps } = setup();
    const budgeted: RegistryDeps = { ...deps, timeoutMs: 5_000 };
    const grant = await registerInstance(budgeted, TTL_REG, IDEM);
    await registerInstance(budgeted, TTL_REG, IDEM);
    await heartbeat(budgeted, grant.id, grant.leaseToken);
    await listInstances(budgeted, 'ephemeral-job');
    await deleteInstance(budgeted, grant.id, grant.leaseToken);
    assert.ok(consul.calls.length >= 8);
    assert.deepEqual(
      consul.calls.filter((c) => c.options.timeoutMs !== 5_000).map((c) => c.operation),
      [],
    );
  });

  it("leaves the Consul client's default timeout when deps give no budget", async () => {
    const { consul, deps } = setup();
    await registerInstance(deps, TTL_REG, IDEM);
    assert.deepEqual(
      consul.calls.map((c) => c.options.timeoutMs),
      consul.calls.map(() => undefined),
    );
  });
});
