// Issue 17, health-sync under abuse, on real parts: a real Consul dev agent (ACLs on), a real
// Greeter that registers itself, moto as Cloud Map, and 1,500 gRPC-checked instances registered
// through the registry's use case (as API-key holders would, 100 per key) that point at a TCP
// server which accepts connections and never answers. The next health-sync run must mirror the
// real Greeter into Cloud Map at once, not after (or instead of) 1,500 probes that each hang
// until their deadline.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  CreateHttpNamespaceCommand,
  GetOperationCommand,
  ListInstancesCommand,
  ListServicesCommand,
  type ServiceDiscoveryClient,
} from '@aws-sdk/client-servicediscovery';
import { handler as healthSyncHandler, runtime as healthSyncRuntime } from '../../functions/health-sync';
import { createCloudMapClient } from '../../lib/cloudmap/cloudmap-client';
import { resolveConfig } from '../../lib/config/resolve-config';
import { agentServices } from '../../lib/consul/agent';
import { healthSyncToken, registryToken as makeRegistryToken } from '../../scripts/stack/tokens';
import { createConsulApi, type ConsulApi } from '../../lib/consul/consul-api';
import { GRPC_PROBED_FILTER } from '../../lib/consul/registration-meta';
import type { HealthSyncReport } from '../../lib/health-sync/health-sync';
import { HEALTH_SYNC_KEYS } from '../../lib/health-sync/health-sync-config';
import { registerInstance } from '../../lib/registry/instance-registry';
import { createInstanceTokenSigner } from '../../lib/registry/instance-token';
import { REGISTRY_KEYS } from '../../lib/registry/registry-config';
import { forEachBounded } from '../../lib/util/bounded';
import { startMoto, type MotoServer } from '../../scripts/stack/moto';
import { seedDefaultConfig } from '../../scripts/stack/seed-config';
import { eventually, startTestStack, type TestStack } from './harness';

const HS_PREFIX = 'config/health-sync/abuse/';
const BLACK_HOLES = 1_500;
// What the Lambda has left when the run starts: well under what 1,500 hung probes take
// (1,500 / 16 in flight × 1 s each ≈ 94 s), as in the report that found the defect.
const REMAINING_MS = 40_000;

let stack: TestStack;
let moto: MotoServer | undefined;
let cm: ServiceDiscoveryClient;
let registryApi: ConsulApi | undefined;
let blackHole: Server | undefined;
const held = new Set<Socket>();
const saved = { ...process.env };

async function cloudMapInstanceIds(serviceName: string): Promise<string[]> {
  const s = ((await cm.send(new ListServicesCommand({}))).Services ?? []).find((x) => x.Name === serviceName);
  if (!s?.Id) return [];
  return ((await cm.send(new ListInstancesCommand({ ServiceId: s.Id }))).Instances ?? []).map((i) => i.Id ?? '');
}

before(async () => {
  stack = await startTestStack('config/greeter-gateway/abuse/');
  moto = await startMoto();
  cm = createCloudMapClient({ region: 'us-east-1', endpoint: moto.endpoint });
  const op = await cm.send(new CreateHttpNamespaceCommand({ Name: `abuse-${randomBytes(3).toString('hex')}` }));
  const namespaceId = (await cm.send(new GetOperationCommand({ OperationId: op.OperationId }))).Operation?.Targets?.NAMESPACE ?? '';
  await stack.addGreeter({ id: 'g-real' });

  // Accepts every connection and never writes a byte: each probe waits out its whole deadline.
  blackHole = createServer((s) => {
    held.add(s);
    s.on('error', () => undefined);
    s.on('close', () => held.delete(s));
  });
  await new Promise<void>((resolve) => blackHole!.listen(0, '127.0.0.1', resolve));
  const port = (blackHole.address() as { port: number }).port;

  const registryToken = await makeRegistryToken(stack.admin, 'config/instance-registry/abuse/');
  registryApi = createConsulApi({ address: stack.consul.address, token: registryToken });
  // The quota would stop one key at 100: the attacker holds 15 keys. Critical instances stay 10 minutes.
  const config = {
    ...resolveConfig(REGISTRY_KEYS, { deregisterAfterSeconds: '600' }).values,
    allowLoopback: true,
    allowedCidrs: ['127.0.0.0/8'],
  };
  const deps = { consul: registryApi, signer: createInstanceTokenSigner(randomBytes(32)), config, timeoutMs: 10_000 };
  await forEachBounded(
    Array.from({ length: BLACK_HOLES }, (_, i) => i),
    16,
    async (i) =>
      void (await registerInstance(
        deps,
        {
          service: `ephemeral-abuse-${i % 5}`,
          address: '127.0.0.1',
          port,
          tags: [],
          meta: {},
          ttlSeconds: 60,
          check: { type: 'grpc', service: '' },
        },
        { caller: `stolen-key-${Math.floor(i / 100)}` },
      )),
  );
  assert.equal((await agentServices(stack.admin, GRPC_PROBED_FILTER)).length, BLACK_HOLES);

  await seedDefaultConfig(stack.admin, HS_PREFIX, HEALTH_SYNC_KEYS, {
    services: 'greeter',
    probeTimeoutMs: '1000',
    probeConcurrency: '16',
    cloudMapNamespaceId: namespaceId,
    cloudMapEndpoint: moto.endpoint,
    cloudMapRegion: 'us-east-1',
    ownerMarker: 'abuse-test',
    leaseEnabled: 'false',
  });
  const syncToken = await healthSyncToken(stack.admin, HS_PREFIX);
  Object.assign(process.env, {
    CONSUL_HTTP_ADDR: stack.consul.address,
    CONSUL_HTTP_TOKEN: syncToken,
    CONFIG_PREFIX: HS_PREFIX,
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  });
});

after(async () => {
  healthSyncRuntime.reset();
  process.env = saved;
  for (const s of held) s.destroy();
  if (blackHole) await new Promise<void>((resolve) => blackHole!.close(() => resolve()));
  registryApi?.destroy();
  cm?.destroy();
  await moto?.stop();
  await stack?.stop();
});

describe('health-sync with 1,500 black-hole registrations', () => {
  it('mirrors the real Greeter into Cloud Map within seconds of the run starting, while the hung probes go on, and finishes within its time', async () => {
    const started = Date.now();
    const run = healthSyncHandler(
      {},
      { getRemainingTimeInMillis: () => Math.max(0, started + REMAINING_MS - Date.now()) },
    ) as Promise<HealthSyncReport>;
    let runEnded = false;
    void run.then(
      () => (runEnded = true),
      () => (runEnded = true),
    );
    await eventually(
      async () => (await cloudMapInstanceIds('greeter')).includes('g-real'),
      20_000,
      'g-real in Cloud Map while the black holes are being probed',
    );
    const mirroredAfterMs = Date.now() - started;
    assert.equal(runEnded, false, 'the mirror did not wait for the probing to end');

    const report = await run;
    const elapsed = Date.now() - started;
    assert.equal(report.cutShort, undefined, 'the Cloud Map step was not skipped');
    assert.deepEqual(report.cloudMap?.errors, []);
    assert.ok(elapsed < REMAINING_MS, `the run ended within the Lambda's time (${elapsed} ms)`);
    assert.ok(report.probes.length > 0 && report.probes.every((p) => !p.ok), 'the probes ran, and every black hole failed its probe');
    // A number to read in the test output: how soon the real instance was mirrored, and how much got probed.
    console.log(
      `mirrored after ${mirroredAfterMs} ms; probed ${report.probes.length} of ${BLACK_HOLES} black holes in ${report.durationMs} ms`,
    );
  });
});
