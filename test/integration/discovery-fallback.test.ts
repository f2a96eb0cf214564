// The discovery fallback on real parts: a 3-server Consul cluster with 2 client agents (DNS on),
// CoreDNS in front of the agents' DNS ports, real Greeter backends, and moto holding the Cloud Map
// mirror that a real health-sync run wrote. Two gateways run in-process: the greet handler
// (DISCOVERY_SOURCE consul, DISCOVERY_FALLBACK cloudmap) and a gateway runtime with DISCOVERY_SOURCE
// dns and the same fallback. Every Consul server and agent is SIGKILLed: the warm gateways keep
// greeting with no failure and say the mirror serves; a cold start answers 200 from the mirror
// (its time is printed, in-process and as the packaged bundle under the Lambda Runtime Interface
// Emulator); once Consul is back, both return to their primary.
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CreateHttpNamespaceCommand, GetOperationCommand } from '@aws-sdk/client-servicediscovery';
import { runtime as greetRuntime } from '../../functions/greet';
import { handler as healthSyncHandler, runtime as healthSyncRuntime } from '../../functions/health-sync';
import { handler as statusHandler, runtime as statusRuntime } from '../../functions/status';
import { createCloudMapClient } from '../../lib/cloudmap/cloudmap-client';
import { gatewayTokens, healthSyncToken } from '../../scripts/stack/tokens';
import { createConsulApi, type ConsulApi } from '../../lib/consul/consul-api';
import { greet, greeterQuery } from '../../lib/greeter/greet';
import { createGatewayRuntime, type GatewayRuntime } from '../../lib/greeter/gateway-runtime';
import type { HealthSyncReport } from '../../lib/health-sync/health-sync';
import { HEALTH_SYNC_KEYS } from '../../lib/health-sync/health-sync-config';
import type { Log } from '../../lib/log/logger';
import { startLambdaRie } from '../../scripts/rie/lambda-rie';
import { packageFunctions, type PackageOutput } from '../../scripts/rie/package-functions';
import { ensureRic } from '../../scripts/rie/ric';
import { ensureRieBinary } from '../../scripts/rie/rie-binary';
import { startConsulCluster, type ConsulCluster } from '../../scripts/stack/consul-cluster';
import { startCoreDns, type CoreDns } from '../../scripts/stack/coredns';
import { startGreeter, type GreeterBackend } from '../../scripts/stack/greeters';
import { startMoto, type MotoServer } from '../../scripts/stack/moto';
import { stopProcess } from '../../scripts/stack/processes';
import { seedDefaultConfig } from '../../scripts/stack/seed-config';
import { eventually, httpEvent, invokeGreet, lambdaContext, passingIds } from './harness';

const PREFIX = 'config/greeter-gateway/fallback/';
const HS_PREFIX = 'config/health-sync/fallback/';
const SAVED = [
  'CONSUL_HTTP_ADDR',
  'CONSUL_HTTP_TOKEN',
  'CONFIG_PREFIX',
  'POWERTOOLS_LOG_LEVEL',
  'DISCOVERY_SOURCE',
  'DISCOVERY_FALLBACK',
  'CONSUL_DNS_ADDR',
  'CLOUDMAP_NAMESPACE',
  'CLOUDMAP_ENDPOINT',
  'CLOUDMAP_REGION',
];
const saved = Object.fromEntries(SAVED.map((k) => [k, process.env[k]]));

let cluster: ConsulCluster | undefined;
let admin: ConsulApi | undefined;
let coreDns: CoreDns | undefined;
let moto: MotoServer | undefined;
let dnsRt: GatewayRuntime | undefined;
let pkg: PackageOutput | undefined;
const greeters: GreeterBackend[] = [];
let gatewayToken = '';
let namespace = '';
const figures: string[] = [];

/** A Log that keeps its lines, for the dns gateway: the switch must be logged once each way. */
function linesLog(): Log & { lines: { level: string; message: string }[] } {
  const lines: { level: string; message: string }[] = [];
  const at = (level: string) => (message: string) => void lines.push({ level, message });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
const dnsLog = linesLog();

/** The gateway's environment; `source` is DISCOVERY_SOURCE, always with the Cloud Map mirror as fallback. */
function useGatewayEnv(source: 'consul' | 'dns'): void {
  Object.assign(process.env, {
    CONSUL_HTTP_ADDR: cluster!.clients.map((c) => c.address).join(','),
    CONSUL_HTTP_TOKEN: gatewayToken,
    CONFIG_PREFIX: PREFIX,
    DISCOVERY_SOURCE: source,
    DISCOVERY_FALLBACK: 'cloudmap',
    CONSUL_DNS_ADDR: coreDns!.address,
    CLOUDMAP_NAMESPACE: namespace,
    CLOUDMAP_ENDPOINT: moto!.endpoint,
    CLOUDMAP_REGION: 'us-east-1',
  });
}

async function greetDns(name: string): Promise<{ ok: boolean; detail: string }> {
  try {
    const r = await greet(dnsRt!, name, () => 10_000);
    return { ok: true, detail: r.servedBy.id };
  } catch (err) {
    return { ok: false, detail: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
}
async function greetConsul(name: string): Promise<{ ok: boolean; detail: string }> {
  const r = await invokeGreet(name);
  return { ok: r.status === 200, detail: r.status === 200 ? (r.body.servedBy?.id ?? '') : `${r.status} ${r.body.error?.code ?? ''}` };
}
async function status(): Promise<{
  discoverySource: { source: string; fallback?: { active: string } };
  discovery: { servedBy: string | null }[];
}> {
  const res = await statusHandler(httpEvent('GET'), lambdaContext());
  assert.equal(res.statusCode, 200, res.body);
  return JSON.parse(res.body ?? '{}') as Awaited<ReturnType<typeof status>>;
}
const servedBy = (rt: GatewayRuntime | undefined) => rt?.discovery.servedBy(greeterQuery(rt.config.values()));

/** Greets through both gateways in loops until `during()` resolves; returns what failed. */
async function greetWhile(during: () => Promise<void>): Promise<{ sent: number; failed: string[] }> {
  let done = false;
  let sent = 0;
  const failed: string[] = [];
  const loop = (name: string, call: (n: string) => Promise<{ ok: boolean; detail: string }>) =>
    (async () => {
      while (!done) {
        const r = await call(`${name}${sent++}`);
        if (!r.ok) failed.push(`${name}: ${r.detail}`);
      }
    })();
  const loops = [loop('consul-gw-', greetConsul), loop('dns-gw-', greetDns)];
  try {
    await during();
  } finally {
    done = true;
    await Promise.all(loops);
  }
  return { sent, failed };
}

describe('discovery fallback to the Cloud Map mirror with every Consul server and agent SIGKILLed', { timeout: 300_000 }, () => {
  before(async () => {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
    ensureRieBinary((l) => console.error(l));
    ensureRic((l) => console.error(l));
    const packaging = packageFunctions();
    // Settled at once, so a failure elsewhere in `before` cannot leave it unhandled; `after` removes it.
    packaging.then(
      (p) => (pkg = p),
      () => undefined,
    );
    cluster = await startConsulCluster({ clients: 2, dns: true });
    admin = createConsulApi({ address: cluster.clients[0]!.address, token: cluster.managementToken });
    const tokens = await gatewayTokens(admin, PREFIX);
    gatewayToken = tokens.gatewayToken;
    const backendToken = tokens.backendToken;
    const syncToken = await healthSyncToken(admin, HS_PREFIX);
    await seedDefaultConfig(admin, PREFIX, undefined, { discoveryMinIntervalMs: '0' });
    for (const id of ['fb-1', 'fb-2'])
      greeters.push(await startGreeter({ id, consulAddress: cluster.clients[1]!.address, token: backendToken }));
    await eventually(async () => (await passingIds(admin!, 'greeter')).length === 2, 20_000, 'both backends passing');
    coreDns = await startCoreDns({ upstreams: cluster.clients.map((c) => c.dnsAddress!) });

    // The mirror: a namespace in moto, written by a real health-sync run (its Lambda handler).
    moto = await startMoto();
    namespace = `fallback-${randomBytes(3).toString('hex')}`;
    const cm = createCloudMapClient({ region: 'us-east-1', endpoint: moto.endpoint });
    try {
      const op = await cm.send(new CreateHttpNamespaceCommand({ Name: namespace }));
      const namespaceId = (await cm.send(new GetOperationCommand({ OperationId: op.OperationId }))).Operation?.Targets?.NAMESPACE ?? '';
      assert.ok(namespaceId, 'moto created the namespace');
      await seedDefaultConfig(admin, HS_PREFIX, HEALTH_SYNC_KEYS, {
        services: 'greeter',
        cloudMapNamespaceId: namespaceId,
        cloudMapEndpoint: moto.endpoint,
        cloudMapRegion: 'us-east-1',
        leaseEnabled: 'false',
      });
    } finally {
      cm.destroy();
    }
    Object.assign(process.env, { CONSUL_HTTP_ADDR: cluster.clients[0]!.address, CONSUL_HTTP_TOKEN: syncToken, CONFIG_PREFIX: HS_PREFIX });
    const report = (await healthSyncHandler({})) as HealthSyncReport;
    assert.deepEqual(report.cloudMap?.errors ?? [], []);
    assert.ok((report.cloudMap?.registered ?? 0) >= 2, 'the run mirrored both backends');
    healthSyncRuntime.reset();
    await packaging;
  });

  after(async () => {
    pkg?.remove();
    greetRuntime.reset();
    statusRuntime.reset();
    healthSyncRuntime.reset();
    dnsRt?.close();
    admin?.destroy();
    await Promise.all(greeters.map((g) => stopProcess(g.process, 'SIGKILL')));
    await coreDns?.stop();
    await moto?.stop();
    await cluster?.stop();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    if (figures.length) console.log(`discovery-fallback figures:\n  ${figures.join('\n  ')}`);
  });

  it('serves through the primaries while Consul is up: consul blocking queries, Consul DNS through CoreDNS', async () => {
    useGatewayEnv('consul');
    const g = await greetConsul('Ada');
    assert.ok(g.ok, g.detail);
    const s = await status();
    assert.equal(s.discoverySource.source, 'consul');
    assert.deepEqual(
      s.discovery.map((d) => d.servedBy),
      ['consul'],
    );
    assert.equal(servedBy(greetRuntime.peek()), 'consul');
    useGatewayEnv('dns');
    dnsRt = createGatewayRuntime(dnsLog);
    const d = await greetDns('Grace');
    assert.ok(d.ok, d.detail);
    assert.equal(servedBy(dnsRt), 'dns');
    // With DISCOVERY_SOURCE=dns, discovery never asks Consul's HTTP API (config and lease still do).
    const health = [...dnsRt.consul.requestCounts.keys()].filter((op) => op.startsWith('consul.health'));
    assert.deepEqual(health, [], 'no Consul HTTP discovery request from the dns gateway');
  });

  it('warm: keeps greeting with 0 failures while every server and agent is SIGKILLed; /status names cloudmap', async () => {
    let switchMs = { consul: 0, dns: 0 };
    const { sent, failed } = await greetWhile(async () => {
      // Traffic first, then the whole cluster dies at once.
      await eventually(() => true, 1_000, 'traffic');
      const killedAt = Date.now();
      await Promise.all(cluster!.nodes.map((n) => cluster!.kill(n)));
      await eventually(
        () => servedBy(greetRuntime.peek()) === 'cloudmap' && servedBy(dnsRt) === 'cloudmap',
        30_000,
        'both gateways served by the mirror',
      );
      switchMs = { consul: Date.now() - killedAt, dns: Date.now() - killedAt };
      // Keep greeting on the mirror for a while: a few probes of the dead primaries happen meanwhile.
      const until = Date.now() + 4_000;
      await eventually(() => Date.now() >= until, 10_000, 'greeting on the mirror');
    });
    assert.deepEqual(failed, [], `failures among ${sent} greets`);
    assert.ok(sent > 20, `greeted throughout (${sent})`);
    await eventually(async () => (await status()).discovery.every((d) => d.servedBy === 'cloudmap'), 15_000, '/status served by cloudmap');
    const s = await status();
    assert.equal(s.discoverySource.fallback?.active, 'cloudmap');
    assert.equal(
      dnsLog.lines.filter((l) => l.level === 'warn' && l.message.includes('serving from a fallback')).length,
      1,
      'the switch is logged once',
    );
    figures.push(
      `warm: ${sent} greets, ${failed.length} failed; both gateways on the mirror within ${Math.max(switchMs.consul, switchMs.dns)} ms of the kill`,
    );
  });

  it('cold start with all of Consul dead answers 200 from the mirror', async () => {
    for (const source of ['consul', 'dns'] as const) {
      greetRuntime.reset();
      useGatewayEnv(source);
      const t0 = performance.now();
      const r = await invokeGreet(`cold-${source}`);
      const ms = Math.round(performance.now() - t0);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(servedBy(greetRuntime.peek()), 'cloudmap');
      figures.push(
        `cold start (in-process, runtime built + first greet), DISCOVERY_SOURCE=${source}, every Consul node SIGKILLed: 200 in ${ms} ms`,
      );
      // The target is 1 s; on this busy 2-core box the bound is looser, the figure is printed.
      assert.ok(ms < 2_000, `cold start took ${ms} ms`);
    }
  });

  it('cold start of the packaged greet under the Lambda emulator, all of Consul dead: 200 from the mirror', async () => {
    const fn = pkg!.functions.get('greet')!;
    useGatewayEnv('consul');
    const env: Record<string, string> = {};
    for (const k of [
      'CONSUL_HTTP_ADDR',
      'CONSUL_HTTP_TOKEN',
      'CONFIG_PREFIX',
      'DISCOVERY_SOURCE',
      'DISCOVERY_FALLBACK',
      'CLOUDMAP_NAMESPACE',
      'CLOUDMAP_ENDPOINT',
      'CLOUDMAP_REGION',
    ])
      env[k] = process.env[k] ?? '';
    // Lambda's Node runtime ships the SDK v3 on NODE_PATH (/var/runtime/node_modules); greet's bundle
    // requires @aws-sdk/client-servicediscovery from there (scripts/esbuild/plugins.cjs).
    env.NODE_PATH = join(__dirname, '..', '..', 'node_modules');
    const rie = await startLambdaRie({ fn, env });
    try {
      const cold = await rie.invoke(httpEvent('GET', { name: 'Lambda' }));
      const payload = cold.payload as { statusCode?: number; body?: string };
      assert.equal(payload.statusCode, 200, `${cold.body}\n${cold.logs.join('\n')}`);
      assert.equal((JSON.parse(payload.body ?? '{}') as { servedBy?: { id?: string } }).servedBy?.id?.startsWith('fb-'), true);
      // The emulator runs init inside the first invocation: its Duration holds process start and handler load.
      figures.push(
        `cold start, packaged greet in the Lambda RIE, every Consul node SIGKILLed: 200 in ${Math.round(cold.report.durationMs)} ms (REPORT Duration; of it, runtime init ${cold.runtimeInitMs ?? '?'} ms)`,
      );
      assert.ok(cold.report.durationMs < 2_000, `cold start took ${cold.report.durationMs} ms`);
    } finally {
      await rie.stop();
    }
  });

  it('a cold start facing a silent Consul (every node SIGSTOPped: connections accepted, no answer) still answers 200', async () => {
    await Promise.all(cluster!.servers.map((n) => cluster!.restart(n)));
    await Promise.all(cluster!.clients.map((n) => cluster!.restart(n)));
    await cluster!.waitForLeader(30_000);
    for (const n of cluster!.nodes) cluster!.freeze(n);
    try {
      greetRuntime.reset();
      useGatewayEnv('consul');
      const t0 = performance.now();
      const r = await invokeGreet('cold-silent', 10_000);
      const ms = Math.round(performance.now() - t0);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(servedBy(greetRuntime.peek()), 'cloudmap');
      figures.push(`cold start, DISCOVERY_SOURCE=consul, every Consul node SIGSTOPped (timeouts, not refusals): 200 in ${ms} ms`);
    } finally {
      for (const n of cluster!.nodes) cluster!.thaw(n);
    }
    // Not warm on Consul again yet: the return test below starts from the kill.
    await Promise.all(cluster!.nodes.map((n) => cluster!.kill(n)));
    greetRuntime.reset();
    assert.equal((await invokeGreet('cold-again')).status, 200);
  });

  it('returns to the primaries once Consul is back, still with no failure', async () => {
    let backMs = 0;
    const { sent, failed } = await greetWhile(async () => {
      const t0 = Date.now();
      await Promise.all(cluster!.servers.map((n) => cluster!.restart(n)));
      await Promise.all(cluster!.clients.map((n) => cluster!.restart(n)));
      await cluster!.waitForLeader(30_000);
      await eventually(
        () => servedBy(greetRuntime.peek()) === 'consul' && servedBy(dnsRt) === 'dns',
        60_000,
        'both gateways back on their primary',
      );
      backMs = Date.now() - t0;
    });
    assert.deepEqual(failed, [], `failures among ${sent} greets`);
    await eventually(async () => (await status()).discovery.every((d) => d.servedBy === 'consul'), 30_000, '/status served by consul');
    assert.equal(
      dnsLog.lines.filter((l) => l.level === 'info' && l.message.includes('back on the primary')).length,
      1,
      'the return is logged once',
    );
    figures.push(`return: both gateways on their primary ${backMs} ms after the restart began (${sent} greets, ${failed.length} failed)`);
  });
});
