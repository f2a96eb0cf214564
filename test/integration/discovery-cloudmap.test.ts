// The cloudmap discovery source on real parts: a real Consul with real Greeter backends, a
// real health-sync run (its Lambda handler) writing the mirror into moto, and the source
// reading it back through the real SDK client: the same passing instances, a backend that
// dies leaves after the next sync plus one poll interval, calls/s = services / interval,
// and moto gone is a typed "no answer" within the call's timeout.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CreateHttpNamespaceCommand, GetOperationCommand } from '@aws-sdk/client-servicediscovery';
import { handler as healthSyncHandler, runtime as healthSyncRuntime } from '../../functions/health-sync';
import { createCloudMapClient } from '../../lib/cloudmap/cloudmap-client';
import { CloudMapDiscoveryError, createDiscoverInstancesClient, type DiscoverInstancesClient } from '../../lib/cloudmap/discover-instances';
import { healthSyncToken } from '../../scripts/stack/tokens';
import { toServiceInstances } from '../../lib/consul/service-instances';
import { cloudMapHealthSource, type CloudMapSourceOptions } from '../../lib/discovery/cloudmap-source';
import type { HealthSource } from '../../lib/discovery/health-source';
import type { ServiceQuery } from '../../lib/discovery/service-query';
import { ServiceWatch } from '../../lib/discovery/service-watch';
import type { HealthSyncReport } from '../../lib/health-sync/health-sync';
import { HEALTH_SYNC_KEYS } from '../../lib/health-sync/health-sync-config';
import { silentLog } from '../../lib/log/logger';
import { startMoto, type MotoServer } from '../../scripts/stack/moto';
import { stopProcess } from '../../scripts/stack/processes';
import { seedDefaultConfig } from '../../scripts/stack/seed-config';
import { eventually, passingIds, startTestStack, type TestStack } from './harness';

const HS_PREFIX = 'config/health-sync/cloudmap-source/';
const POLL_MS = 2_000;
const JITTER = 0.2;
const TIMEOUT_MS = 2_000;
const QUERY = { service: 'greeter' };

let stack: TestStack | undefined;
let moto: MotoServer | undefined;
let reader: DiscoverInstancesClient | undefined;
let namespace: string;
const watches: ServiceWatch[] = [];
const saved = {
  CONSUL_HTTP_ADDR: process.env.CONSUL_HTTP_ADDR,
  CONSUL_HTTP_TOKEN: process.env.CONSUL_HTTP_TOKEN,
  CONFIG_PREFIX: process.env.CONFIG_PREFIX,
  POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL,
};

const source = (o: Partial<CloudMapSourceOptions> = {}): HealthSource =>
  cloudMapHealthSource(reader!, { namespace, pollIntervalMs: POLL_MS, jitter: JITTER, ...o });
const sync = async () => {
  const r = (await healthSyncHandler({})) as HealthSyncReport;
  assert.equal(r.skipped, undefined);
  assert.deepEqual(r.cloudMap?.errors ?? [], []);
  return r;
};
const watchOf = (src: HealthSource, query: ServiceQuery = QUERY) => {
  const w = new ServiceWatch(query, src, () => ({ waitSeconds: 30, minIntervalMs: 0, backoffBaseMs: 200, backoffMaxMs: 2_000 }), silentLog);
  watches.push(w);
  w.start();
  return w;
};
const routable = (list: readonly { id: string; address: string; port: number; tags: string[]; meta: Record<string, string> }[]) =>
  list
    .map(({ id, address, port, tags, meta }) => ({ id, address, port, tags: [...tags].sort(), meta }))
    .sort((a, b) => a.id.localeCompare(b.id));

const ids = (list: readonly { id: string }[] | undefined) =>
  (list ?? [])
    .map((i) => i.id)
    .sort()
    .join();

/** Consul's own passing instances of `greeter`, as the gateway's Consul source would route to them. */
async function consulPassing() {
  const res = await fetch(`http://${stack!.consul.address}/v1/health/service/greeter?passing=true`, {
    headers: { 'x-consul-token': stack!.consul.managementToken },
    signal: AbortSignal.timeout(5_000),
  });
  return routable(toServiceInstances(await res.json()));
}

describe('cloudmap discovery source on moto, mirror written by a real health-sync run', { timeout: 240_000 }, () => {
  before(async () => {
    stack = await startTestStack('config/greeter-gateway/cloudmap-source/');
    moto = await startMoto();
    namespace = `cm-src-${randomBytes(3).toString('hex')}`;
    const cm = createCloudMapClient({ region: 'us-east-1', endpoint: moto.endpoint });
    try {
      const op = await cm.send(new CreateHttpNamespaceCommand({ Name: namespace }));
      const namespaceId = (await cm.send(new GetOperationCommand({ OperationId: op.OperationId }))).Operation?.Targets?.NAMESPACE ?? '';
      assert.ok(namespaceId, 'moto created the namespace');
      await seedDefaultConfig(stack.admin, HS_PREFIX, HEALTH_SYNC_KEYS, {
        services: 'greeter',
        cloudMapNamespaceId: namespaceId,
        cloudMapEndpoint: moto.endpoint,
        cloudMapRegion: 'us-east-1',
        ownerMarker: 'cloudmap-source-it',
        leaseEnabled: 'false',
      });
    } finally {
      cm.destroy();
    }
    const syncToken = await healthSyncToken(stack.admin, HS_PREFIX);
    Object.assign(process.env, {
      CONSUL_HTTP_ADDR: stack.consul.address,
      CONSUL_HTTP_TOKEN: syncToken,
      CONFIG_PREFIX: HS_PREFIX,
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
    });
    await stack.addGreeter({ id: 'cm-1', tags: ['blue'] });
    await stack.addGreeter({ id: 'cm-2', tags: ['blue', 'green'] });
    await stack.addGreeter({ id: 'cm-3', tags: ['green'] });
    reader = createDiscoverInstancesClient({ region: 'us-east-1', endpoint: moto.endpoint, timeoutMs: TIMEOUT_MS });
  });

  after(async () => {
    for (const w of watches) w.stop();
    reader?.close();
    healthSyncRuntime.reset();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await moto?.stop();
    await stack?.stop();
  });

  it('serves the same passing instances as Consul, from the mirror a real health-sync run wrote', async () => {
    const report = await sync();
    assert.ok((report.cloudMap?.registered ?? 0) >= 3, 'the run registered the backends in Cloud Map');
    const res = await source().passingInstances(QUERY, undefined, 30, AbortSignal.timeout(10_000));
    assert.match(res.index, /^[1-9]\d*$/);
    assert.deepEqual(routable(res.value), await consulPassing());
    assert.deepEqual(
      routable(res.value).map((i) => i.id),
      ['cm-1', 'cm-2', 'cm-3'],
    );
    const green = await source().passingInstances({ service: 'greeter', tag: 'green' }, undefined, 30, AbortSignal.timeout(10_000));
    assert.deepEqual(green.value.map((i) => i.id).sort(), ['cm-2', 'cm-3']);
  });

  it(`polls once per interval per watched query: calls/s = services / interval`, async () => {
    const src = source();
    const plain = watchOf(src);
    const green = watchOf(src, { service: 'greeter', tag: 'green' });
    await eventually(() => plain.current()?.length === 3 && green.current()?.length === 2, 10_000, 'both watches answered');
    const services = 2;
    const target = 10; // five polls per query
    const before = reader!.calls;
    const started = Date.now();
    await eventually(() => reader!.calls - before >= target, 30_000, `${target} DiscoverInstances calls`);
    const calls = reader!.calls - before;
    const seconds = (Date.now() - started) / 1000;
    const rate = calls / seconds;
    const formula = services / (POLL_MS / 1000);
    console.log(
      `cloudmap source: ${calls} DiscoverInstances calls in ${seconds.toFixed(1)} s for ${services} watched queries at ${POLL_MS} ms (jitter ${JITTER}): ${rate.toFixed(2)} calls/s; services/interval = ${formula.toFixed(2)}, ${(formula / (1 + JITTER / 2)).toFixed(2)} with the mean jitter`,
    );
    // Never more than one call per interval per query (+1 for the poll under way at the start).
    assert.ok(calls <= services * (seconds / (POLL_MS / 1000) + 1), `${calls} calls in ${seconds} s: more than one per interval per query`);
    for (const w of [plain, green]) w.stop();
  });

  it('a backend that turns critical leaves the source after the next health-sync run plus one poll interval plus 1 s', async () => {
    const watch = watchOf(source());
    await eventually(() => watch.current()?.length === 3, 10_000, 'the watch to know the three backends');
    const victim = stack!.greeters.find((g) => g.id === 'cm-2')!;
    await stopProcess(victim.process, 'SIGKILL');
    await eventually(async () => !(await passingIds(stack!.admin, 'greeter')).includes('cm-2'), 15_000, 'Consul to mark cm-2 critical');
    assert.equal(watch.current()?.length, 3, 'the mirror still holds cm-2 until health-sync runs');
    const report = await sync();
    assert.ok(
      report.plan.some((a) => a.kind === 'updateHealth' && a.instanceId === 'cm-2' && a.status === 'UNHEALTHY'),
      'the run pushed cm-2 UNHEALTHY',
    );
    const synced = Date.now();
    const limit = POLL_MS * (1 + JITTER) + 1_000;
    await eventually(() => ids(watch.current()) === 'cm-1,cm-3', limit, `cm-2 to leave the watch within ${limit} ms of the sync`);
    console.log(
      `cloudmap source: cm-2 left the watch ${Date.now() - synced} ms after the health-sync run (interval ${POLL_MS} ms, jitter ${JITTER})`,
    );
    assert.deepEqual(routable(watch.current()!), await consulPassing());
  });

  it('moto stopped: a typed "no answer" within the call timeout, and a watch keeps serving its last list', async () => {
    const watch = watchOf(source());
    await eventually(() => watch.current()?.length === 2, 10_000, 'the watch to have the list');
    await moto!.stop();
    moto = undefined;
    const started = Date.now();
    await assert.rejects(
      source().passingInstances(QUERY, undefined, 30, AbortSignal.timeout(30_000)),
      (e: unknown) => e instanceof CloudMapDiscoveryError && e.noAnswer && !e.throttled,
    );
    const took = Date.now() - started;
    console.log(`cloudmap source: moto stopped, typed no-answer after ${took} ms (call timeout ${TIMEOUT_MS} ms)`);
    assert.ok(took <= TIMEOUT_MS + 1_000, `no answer after ${took} ms, beyond the ${TIMEOUT_MS} ms call timeout`);
    await eventually(
      () => watch.snapshot().lastError !== undefined,
      POLL_MS * (1 + JITTER) + TIMEOUT_MS + 2_000,
      'the watch to see the failure',
    );
    assert.equal(ids(watch.current()), 'cm-1,cm-3', 'the stale list is still served');
  });
});
