// Per-API-key quotas, the pure-ish part against the in-memory Consul: what counts, which
// limit answers, and that a lost check-and-set is counted again rather than let through.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig } from '../../../lib/config/resolve-config';
import { RegistryError } from '../../../lib/registry/errors';
import { deleteInstance, registerInstance, type RegistryDeps } from '../../../lib/registry/instance-registry';
import { createInstanceTokenSigner } from '../../../lib/registry/instance-token';
import { OWNER_META, ownerDigest, QUOTA_PREFIX, reserveQuota } from '../../../lib/registry/quota';
import type { Registration } from '../../../lib/registry/registration-request';
import { REGISTRY_KEYS } from '../../../lib/registry/registry-config';
import { FakeConsul } from '../helpers/fake-consul';

const NOW = 1_700_000_000_000;
const OWNER = ownerDigest('some-keyed-digest');
const limits = { total: 3, perService: 2 };
const reserve = (consul: FakeConsul, id: string, service = 'ephemeral-a', extra: { now?: () => number; budgetMs?: number } = {}) =>
  reserveQuota(consul, {
    owner: OWNER,
    id,
    service,
    limits,
    reservationMs: 30_000,
    budgetMs: extra.budgetMs ?? 1_000,
    now: extra.now ?? (() => NOW),
  });
const exceeded = (re: RegExp) => (err: unknown) => err instanceof RegistryError && err.kind === 'quota_exceeded' && re.test(err.message);
const live = (consul: FakeConsul, id: string, service: string, owner = OWNER) =>
  consul.addService({ id, service, address: '10.0.0.1', port: 1, meta: { [OWNER_META]: owner } });
/** The registrations of registerInstance and deleteInstance below: a TTL-checked workload. */
const signer = createInstanceTokenSigner('k'.repeat(32));
const reg: Registration = {
  service: 'ephemeral-job',
  address: '10.1.2.3',
  port: 8080,
  tags: [],
  meta: {},
  ttlSeconds: 45,
  check: { type: 'ttl' },
};

describe('reserveQuota', () => {
  it('counts live instances and reservations in flight, per service and in total', async () => {
    const consul = new FakeConsul();
    live(consul, 'a-1', 'ephemeral-a');
    live(consul, 'x-1', 'ephemeral-a', ownerDigest('someone else'));
    await reserve(consul, 'a-2');
    await assert.rejects(reserve(consul, 'a-3'), exceeded(/2 live or pending instances of ephemeral-a \(limit 2 per service\)/));
    await reserve(consul, 'b-1', 'ephemeral-b');
    await assert.rejects(reserve(consul, 'c-1', 'ephemeral-c'), exceeded(/3 live or pending instances \(limit 3\)/));
  });

  it('counts an instance once when it is both live and still reserved', async () => {
    const consul = new FakeConsul();
    await reserve(consul, 'a-1');
    live(consul, 'a-1', 'ephemeral-a');
    await reserve(consul, 'a-2');
  });

  it('drops reservations whose time is up', async () => {
    const consul = new FakeConsul();
    await reserve(consul, 'a-1');
    await reserve(consul, 'a-2');
    await assert.rejects(reserve(consul, 'a-3'), exceeded(/per service/));
    await reserve(consul, 'a-3', 'ephemeral-a', { now: () => NOW + 30_001 });
  });

  it('counts again after losing the check-and-set, so a racing request is not let through', async () => {
    const consul = new FakeConsul();
    await reserve(consul, 'a-1');
    let raced = false;
    consul.onCall = (call) => {
      // Another registration of the same caller reserves between our read and our write.
      if (call.operation === 'consul.kv.set' && !raced) {
        raced = true;
        consul.putKv(
          `${QUOTA_PREFIX}${OWNER}`,
          JSON.stringify({
            reservations: [
              { id: 'a-1', service: 'ephemeral-a', until: NOW + 30_000 },
              { id: 'a-9', service: 'ephemeral-a', until: NOW + 30_000 },
            ],
          }),
        );
      }
    };
    await assert.rejects(reserve(consul, 'a-2'), exceeded(/per service/));
  });

  it('answers busy (idempotency_conflict, retry) when the record keeps changing for the whole budget', async () => {
    const consul = new FakeConsul();
    consul.onCall = (call) => {
      if (call.operation === 'consul.kv.set') consul.putKv(`${QUOTA_PREFIX}${OWNER}`, JSON.stringify({ reservations: [] }));
    };
    await assert.rejects(
      reserve(consul, 'a-1', 'ephemeral-a', { budgetMs: 100 }),
      (err: unknown) => err instanceof RegistryError && err.kind === 'idempotency_conflict',
    );
  });
});

describe('registerInstance quotas', () => {
  const deps = (consul: FakeConsul): RegistryDeps => ({
    consul,
    signer,
    config: resolveConfig(REGISTRY_KEYS, { maxInstancesPerApiKey: '3', maxInstancesPerServicePerApiKey: '2' }).values,
  });

  it('refuses the registration over the limit of its caller, registering nothing, while another caller still may', async () => {
    const consul = new FakeConsul();
    await registerInstance(deps(consul), reg, { caller: 'key-a' });
    await registerInstance(deps(consul), reg, { caller: 'key-a' });
    await assert.rejects(registerInstance(deps(consul), reg, { caller: 'key-a' }), exceeded(/per service/));
    assert.equal(consul.services.size, 2);
    await registerInstance(deps(consul), reg, { caller: 'key-b' });
    assert.equal(consul.services.size, 3);
  });

  it('an idempotent replay costs no quota, and a refused registration forgets its claim', async () => {
    const consul = new FakeConsul();
    const idem = { caller: 'key-a', key: 'retry-key-0123456789' };
    const first = await registerInstance(deps(consul), reg, idem);
    await registerInstance(deps(consul), { ...reg, port: 1 }, { caller: 'key-a' });
    assert.equal((await registerInstance(deps(consul), reg, idem)).id, first.id);
    const other = { caller: 'key-a', key: 'another-key-0123456789' };
    await assert.rejects(registerInstance(deps(consul), { ...reg, port: 2 }, other), exceeded(/per service/));
    assert.equal([...consul.kv.keys()].filter((k) => k.startsWith('registry/idempotency/')).length, 1, 'only the first key is remembered');
  });
});

describe('deleteInstance and quotas', () => {
  it('frees the slot of a deleted instance at once', async () => {
    const consul = new FakeConsul();
    const deps: RegistryDeps = { consul, signer, config: resolveConfig(REGISTRY_KEYS, { maxInstancesPerApiKey: '1' }).values };
    const first = await registerInstance(deps, reg, { caller: 'key-a' });
    await assert.rejects(registerInstance(deps, reg, { caller: 'key-a' }), exceeded(/limit 1\)/));
    await deleteInstance(deps, first.id, first.leaseToken);
    await registerInstance(deps, reg, { caller: 'key-a' });
  });
});
