// The health-sync job on real parts: Consul (ACLs on), Greeter backends registered
// through the registry with a gRPC check, and moto as Cloud Map.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  CreateHttpNamespaceCommand,
  CreateServiceCommand,
  DeregisterInstanceCommand,
  GetInstancesHealthStatusCommand,
  GetOperationCommand,
  ListInstancesCommand,
  ListServicesCommand,
  RegisterInstanceCommand,
  type ServiceDiscoveryClient,
} from '@aws-sdk/client-servicediscovery';
import { handler as greetHandler, runtime as greetRuntime } from '../../functions/greet';
import { handler as healthSyncHandler, runtime as healthSyncRuntime } from '../../functions/health-sync';
import { createCloudMapClient } from '../../lib/cloudmap/cloudmap-client';
import { healthSyncPolicies, registryPolicies, reverseSyncPolicies } from '../../scripts/stack/acl-admin';
import { healthSyncToken, registryToken as makeRegistryToken } from '../../scripts/stack/tokens';
import { deregisterService } from '../../lib/consul/agent';
import { createConsulApi, type ConsulApi } from '../../lib/consul/consul-api';
import { kvPut } from '../../lib/consul/kv';
import { LOCK_KEY, type HealthSyncReport } from '../../lib/health-sync/health-sync';
import { tryLock } from '../../lib/consul/lock';
import { HEALTH_SYNC_KEYS } from '../../lib/health-sync/health-sync-config';
import { silentLog } from '../../lib/log/logger';
import { registerInstance } from '../../lib/registry/instance-registry';
import { createInstanceTokenSigner } from '../../lib/registry/instance-token';
import { resolveConfig } from '../../lib/config/resolve-config';
import { REGISTRY_KEYS } from '../../lib/registry/registry-config';
import { startMoto, type MotoServer } from '../../scripts/stack/moto';
import { stopProcess } from '../../scripts/stack/processes';
import { seedDefaultConfig } from '../../scripts/stack/seed-config';
import { startGreeter, type GreeterBackend } from '../../scripts/stack/greeters';
import { eventually, httpEvent, lambdaContext, passingIds, startTestStack, type TestStack } from './harness';

const HS_PREFIX = 'config/health-sync/test/';
const WRITES = ['CreateService', 'RegisterInstance', 'DeregisterInstance', 'UpdateInstanceCustomHealthStatus'];
let stack: TestStack;
let moto: MotoServer | undefined;
let cm: ServiceDiscoveryClient;
let namespaceId: string;
let registryApi: ConsulApi;
let syncToken: string;
const ids: Record<string, string> = {};
let foreignServiceId: string;
const backends: Record<string, GreeterBackend> = {};

const sync = async (dryRun = false) => (await healthSyncHandler({ dryRun })) as HealthSyncReport;
const writesOf = (r: HealthSyncReport) => Object.entries(r.cloudMap?.calls ?? {}).filter(([k, v]) => WRITES.includes(k) && v > 0);

async function cloudMapHealth(): Promise<Record<string, string>> {
  const services = (await cm.send(new ListServicesCommand({}))).Services ?? [];
  const greeter = services.find((s) => s.Name === 'greeter');
  if (!greeter?.Id) return {};
  const res = await cm.send(new GetInstancesHealthStatusCommand({ ServiceId: greeter.Id }));
  return res.Status ?? {};
}
async function cloudMapInstanceIds(serviceName: string): Promise<string[]> {
  const s = ((await cm.send(new ListServicesCommand({}))).Services ?? []).find((x) => x.Name === serviceName);
  if (!s?.Id) return [];
  return ((await cm.send(new ListInstancesCommand({ ServiceId: s.Id }))).Instances ?? []).map((i) => i.Id ?? '').sort();
}
function useHealthSyncEnv(): void {
  Object.assign(process.env, { CONSUL_HTTP_ADDR: stack.consul.address, CONSUL_HTTP_TOKEN: syncToken, CONFIG_PREFIX: HS_PREFIX });
}

before(async () => {
  stack = await startTestStack('config/greeter-gateway/test/');
  moto = await startMoto();
  cm = createCloudMapClient({ region: 'us-east-1', endpoint: moto.endpoint });
  const op = await cm.send(new CreateHttpNamespaceCommand({ Name: `hs-${randomBytes(3).toString('hex')}` }));
  namespaceId = (await cm.send(new GetOperationCommand({ OperationId: op.OperationId }))).Operation?.Targets?.NAMESPACE ?? '';
  // A service someone else owns, in our list: it must never be touched.
  const foreign = await cm.send(new CreateServiceCommand({ Name: 'greeter-legacy', NamespaceId: namespaceId, Description: 'hand-made' }));
  foreignServiceId = foreign.Service?.Id ?? '';
  await cm.send(
    new RegisterInstanceCommand({ ServiceId: foreign.Service?.Id, InstanceId: 'legacy-1', Attributes: { AWS_INSTANCE_IPV4: '10.9.9.9' } }),
  );

  const admin = createConsulApi({ address: stack.consul.address, token: stack.consul.managementToken });
  await seedDefaultConfig(admin, HS_PREFIX, HEALTH_SYNC_KEYS, {
    services: 'greeter,greeter-legacy',
    failuresBeforeCritical: '2',
    successesBeforePassing: '1',
    probeTimeoutMs: '500',
    cloudMapNamespaceId: namespaceId,
    cloudMapEndpoint: moto.endpoint,
    cloudMapRegion: 'us-east-1',
    ownerMarker: 'hs-test',
    leaseEnabled: 'false',
  });
  await seedDefaultConfig(admin, stack.prefix, undefined, { greeterTag: 'probed', leaseEnabled: 'false', discoveryMinIntervalMs: '0' });
  admin.destroy();
  // This job probes gRPC-checked `greeter` instances: the operator names the routed service on purpose.
  syncToken = await healthSyncToken(stack.admin, HS_PREFIX, [
    ...healthSyncPolicies(['ephemeral-'], ['greeter'], { allowProbing: ['greeter'] }),
    ...reverseSyncPolicies('aws-cloud-map', ['greeter-legacy']),
  ]);
  const registryToken = await makeRegistryToken(
    stack.admin,
    'config/instance-registry/test/',
    registryPolicies(['ephemeral-'], ['greeter']),
  );
  registryApi = createConsulApi({ address: stack.consul.address, token: registryToken });
  // `greeter` takes traffic: the registry registers it only when named exactly (allowedServices), never by prefix.
  const config = { ...resolveConfig(REGISTRY_KEYS, { allowedServices: 'greeter' }).values, allowLoopback: true };
  const deps = { consul: registryApi, signer: createInstanceTokenSigner(randomBytes(32)), config };
  for (const name of ['p1', 'p2']) {
    backends[name] = await startGreeter({ id: name, register: false, consulAddress: stack.consul.address, token: '' });
    const grant = await registerInstance(deps, {
      service: 'greeter',
      address: '127.0.0.1',
      port: backends[name].port,
      tags: ['probed'],
      meta: {},
      ttlSeconds: 60,
      check: { type: 'grpc', service: '' },
    });
    ids[name] = grant.id;
  }
  // A gRPC-checked instance of a service that is neither mirrored nor in probeServices.
  const extra = await registerInstance(deps, {
    service: 'ephemeral-probe',
    address: '127.0.0.1',
    port: backends.p1!.port,
    tags: [],
    meta: {},
    ttlSeconds: 60,
    check: { type: 'grpc', service: '' },
  });
  ids.extra = extra.id;
  // The gateway runtime takes its token from the environment when it is created.
  Object.assign(process.env, {
    CONSUL_HTTP_ADDR: stack.consul.address,
    CONSUL_HTTP_TOKEN: stack.gatewayToken,
    CONFIG_PREFIX: stack.prefix,
  });
  greetRuntime.get();
  useHealthSyncEnv();
});
after(async () => {
  greetRuntime.reset();
  healthSyncRuntime.reset();
  registryApi?.destroy();
  cm?.destroy();
  await Promise.all(Object.values(backends).map((b) => stopProcess(b.process, 'SIGKILL')));
  await moto?.stop();
  await stack?.stop();
});

async function greetServedBy(): Promise<string> {
  const res = await greetHandler(httpEvent('GET', { name: 'x' }), lambdaContext());
  return res.statusCode === 200 ? (JSON.parse(res.body ?? '{}') as { servedBy: { id: string } }).servedBy.id : `status ${res.statusCode}`;
}

describe('health-sync', () => {
  it('first run: probes make the registered instances passing and Cloud Map mirrors them', async () => {
    assert.deepEqual(await passingIds(stack.admin, 'greeter'), [], 'gRPC-checked instances start critical');
    const r = await sync();
    assert.equal(r.skipped, undefined);
    assert.deepEqual(
      r.probes.map((p) => [p.id, p.status]).sort(),
      [
        [ids.p1, 'passing'],
        [ids.p2, 'passing'],
        [ids.extra, 'passing'],
      ].sort(),
    );
    assert.deepEqual(await passingIds(stack.admin, 'ephemeral-probe'), [ids.extra], 'registry instances are probed whatever their service');
    assert.deepEqual((await passingIds(stack.admin, 'greeter')).sort(), [ids.p1, ids.p2].sort());
    assert.deepEqual(await cloudMapInstanceIds('greeter'), [ids.p1, ids.p2].sort());
    const health = await cloudMapHealth();
    assert.equal(health[ids.p1 ?? ''], 'HEALTHY');
    assert.ok(
      r.plan.some((a) => a.kind === 'skipForeignService'),
      'the foreign service is reported, not touched',
    );
  });

  it('a second run with nothing changed makes no Cloud Map write', async () => {
    const r = await sync();
    assert.deepEqual(writesOf(r), []);
  });

  it('a killed backend turns critical after N probes, UNHEALTHY in Cloud Map, and greet stops using it', async () => {
    await stopProcess(backends.p2!.process, 'SIGKILL');
    const first = await sync();
    assert.equal(first.probes.find((p) => p.id === ids.p2)?.status, 'passing', 'one failure is not enough (N=2)');
    const second = await sync();
    assert.equal(second.probes.find((p) => p.id === ids.p2)?.status, 'critical');
    assert.match(second.probes.find((p) => p.id === ids.p2)?.output ?? '', /UNAVAILABLE|no answer/);
    assert.equal((await cloudMapHealth())[ids.p2 ?? ''], 'UNHEALTHY');
    assert.deepEqual(await passingIds(stack.admin, 'greeter'), [ids.p1]);
    const watch = greetRuntime.get().watches.get({ service: 'greeter', tag: 'probed' });
    await eventually(() => watch.current()?.length === 1, 5_000, 'discovery to drop the dead backend');
    for (let i = 0; i < 5; i++) assert.equal(await greetServedBy(), ids.p1);
  });

  it('a backend that comes back is healthy again after M good probes', async () => {
    backends.p2 = await startGreeter({
      id: 'p2',
      port: backends.p2!.port,
      register: false,
      consulAddress: stack.consul.address,
      token: '',
    });
    const r = await sync();
    assert.equal(r.probes.find((p) => p.id === ids.p2)?.status, 'passing');
    assert.equal((await cloudMapHealth())[ids.p2 ?? ''], 'HEALTHY');
  });

  it('a dry run plans but changes nothing', async () => {
    await deregisterService(registryApi, ids.p2 ?? '');
    const before = await cloudMapInstanceIds('greeter');
    const r = await sync(true);
    assert.ok(r.plan.some((a) => a.kind === 'deregisterInstance'));
    assert.deepEqual(writesOf(r), []);
    assert.deepEqual(await cloudMapInstanceIds('greeter'), before);
  });

  it('an instance deregistered from Consul leaves Cloud Map; the foreign service is untouched', async () => {
    await sync();
    assert.deepEqual(await cloudMapInstanceIds('greeter'), [ids.p1]);
    assert.deepEqual(await cloudMapInstanceIds('greeter-legacy'), ['legacy-1']);
  });

  it('optionally imports a foreign Cloud Map service into Consul, idempotently, without looping it back', async () => {
    const admin = createConsulApi({ address: stack.consul.address, token: stack.consul.managementToken });
    await kvPut(admin, `${HS_PREFIX}reverseServices`, 'greeter-legacy');
    admin.destroy();
    healthSyncRuntime.reset(); // config is read on cold start
    const first = await sync();
    assert.deepEqual(first.reverse?.errors, []);
    assert.equal(first.reverse?.register.length, 1);
    const imported = (await fetch(`http://${stack.consul.address}/v1/health/service/greeter-legacy`, {
      headers: { 'x-consul-token': stack.consul.managementToken },
    }).then((r) => r.json())) as {
      Node: { Node: string };
      Service: { ID: string; Address: string; Meta: Record<string, string> };
      Checks: { Status: string }[];
    }[];
    assert.equal(imported.length, 1);
    assert.equal(imported[0]?.Node.Node, 'aws-cloud-map');
    assert.equal(imported[0]?.Service.Address, '10.9.9.9');
    assert.equal(imported[0]?.Service.Meta['external-source'], 'aws-cloud-map');
    const second = await sync();
    assert.deepEqual([second.reverse?.register.length, second.reverse?.deregister.length], [0, 0], 'no Consul writes when nothing changed');
    assert.deepEqual(writesOf(second), [], 'the import is not mirrored back into Cloud Map');
    await cm.send(new DeregisterInstanceCommand({ ServiceId: foreignServiceId, InstanceId: 'legacy-1' }));
    const third = await sync();
    assert.equal(third.reverse?.deregister.length, 1);
    assert.deepEqual(await passingIds(stack.admin, 'greeter-legacy'), []);
  });

  it('skips the Cloud Map step rather than overrun the Lambda', async () => {
    const r = (await healthSyncHandler({}, { getRemainingTimeInMillis: () => 10_000 })) as HealthSyncReport;
    assert.match(r.cutShort ?? '', /skipped the Cloud Map step/);
    assert.equal(r.cloudMap, undefined);
    assert.ok(r.probes.length > 0, 'probes still ran');
  });

  it('a run that finds another holding the lock skips, and runs once it is released', async () => {
    const api = createConsulApi({ address: stack.consul.address, token: syncToken });
    const held = await tryLock(api, LOCK_KEY, 30, 'a slow run', silentLog);
    try {
      assert.ok(held, 'the test took the lock');
      assert.equal((await sync()).skipped, 'locked');
    } finally {
      await held?.release();
      api.destroy();
    }
    assert.equal((await sync()).skipped, undefined);
  });

  it("a crashed holder's lock expires with its session", async () => {
    // A holder that took the lock and died: a 10 s session nobody renews.
    const headers = { 'x-consul-token': syncToken };
    const session = (await (
      await fetch(`http://${stack.consul.address}/v1/session/create`, {
        method: 'PUT',
        headers,
        body: JSON.stringify({ TTL: '10s', Behavior: 'delete', LockDelay: '1s' }),
      })
    ).json()) as { ID: string };
    const took = await (
      await fetch(`http://${stack.consul.address}/v1/kv/${LOCK_KEY}?acquire=${session.ID}`, { method: 'PUT', headers, body: 'crashed' })
    ).json();
    assert.equal(took, true);
    assert.equal((await sync()).skipped, 'locked');
    // Consul invalidates an expired session between TTL and 2×TTL.
    await eventually(async () => (await sync()).skipped === undefined, 30_000, 'the dead holder to lose the lock');
  });
});
