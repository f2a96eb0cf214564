// The DNS discovery source on real parts: a Consul dev agent (ACLs default deny) serving DNS with
// the dns_config an operator sets, a real CoreDNS forwarding `consul.` with its cache, and real
// Greeter backends. It proves what the source finds (tags, datacenter, RFC 2782 and Connect
// names), how fast a critical instance leaves, invalidate, the typed errors of a dead or silent
// server, and measures that the queries reaching Consul do not grow with the number of environments.
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { after, before, describe, it } from 'node:test';
import { backendToken as makeBackendToken } from '../../scripts/stack/tokens';
import { createConsulApi, type ConsulApi } from '../../lib/consul/consul-api';
import type { ServiceInstance } from '../../lib/consul/service-instances';
import { dnsHealthSource, type DnsHealthSource } from '../../lib/discovery/dns-source';
import { DnsLookupError } from '../../lib/discovery/srv-errors';
import type { ServiceQuery } from '../../lib/discovery/service-query';
import { ServiceWatch } from '../../lib/discovery/service-watch';
import { silentLog } from '../../lib/log/logger';
import { CONSUL_DNS_TTL_SECONDS, startConsulAgent, type ConsulAgent } from '../../scripts/stack/consul-agent';
import { startCoreDns, type CoreDns } from '../../scripts/stack/coredns';
import { startGreeter, type GreeterBackend, type GreeterOptions } from '../../scripts/stack/greeters';
import { passingIds } from '../../scripts/stack/passing';
import { freePort, stopProcess } from '../../scripts/stack/processes';
import { runtime as rpcRuntime } from '../../functions/rpc';
import { eventually } from './harness';
import { callRpc, provisionRpcToken, useRpcEnvironment } from './rpc-support';

const never = new AbortController().signal;
const ports = (list: readonly ServiceInstance[]) => list.map((i) => i.port).sort((a, b) => a - b);

describe('DNS discovery through CoreDNS and Consul DNS', { timeout: 300_000 }, () => {
  let consul: ConsulAgent;
  let admin: ConsulApi;
  let coredns: CoreDns;
  let backendToken: string;
  const greeters: GreeterBackend[] = [];
  const stoppers: (() => Promise<void>)[] = [];

  const addGreeter = async (o: Omit<GreeterOptions, 'consulAddress' | 'token'>) => {
    const g = await startGreeter({ ...o, consulAddress: consul.address, token: backendToken });
    greeters.push(g);
    await eventually(async () => (await passingIds(admin, o.service ?? 'greeter')).includes(o.id), 15_000, `${o.id} passing in Consul`);
    return g;
  };
  const portOf = (id: string) => greeters.find((g) => g.id === id)!.port;

  before(async () => {
    consul = await startConsulAgent({ dns: true });
    stoppers.push(() => consul.stop());
    admin = createConsulApi({ address: consul.address, token: consul.managementToken, timeoutMs: 5_000 });
    backendToken = await makeBackendToken(admin);
    coredns = await startCoreDns({ upstreams: [consul.dnsAddress!] });
    stoppers.push(() => coredns.stop());
    await addGreeter({ id: 'dns-1', tags: ['v1'] });
    await addGreeter({ id: 'dns-2', tags: ['v2'] });
  });

  after(async () => {
    await Promise.all(greeters.map((g) => stopProcess(g.process, 'SIGKILL')));
    admin?.destroy();
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
  });

  it('finds the passing instances through CoreDNS, by tag, by datacenter, in both spellings', async () => {
    const source = dnsHealthSource({ servers: [coredns.address] });
    const all = await source.passingInstances({ service: 'greeter' }, undefined, 30, never);
    assert.deepEqual(
      ports(all.value),
      [portOf('dns-1'), portOf('dns-2')].sort((a, b) => a - b),
    );
    assert.ok(all.value.every((i) => i.address === '127.0.0.1' && i.id === `127.0.0.1:${i.port}` && i.service === 'greeter'));
    const v1 = await source.passingInstances({ service: 'greeter', tag: 'v1' }, undefined, 30, never);
    assert.deepEqual(
      v1.value.map((i) => [i.port, i.tags]),
      [[portOf('dns-1'), ['v1']]],
    );
    const dc1 = await source.passingInstances({ service: 'greeter', datacenter: 'dc1' }, undefined, 30, never);
    assert.deepEqual(ports(dc1.value), ports(all.value));
    const rfc = dnsHealthSource({ servers: [coredns.address], nameStyle: 'rfc2782' });
    assert.deepEqual(ports((await rfc.passingInstances({ service: 'greeter', tag: 'v2' }, undefined, 30, never)).value), [portOf('dns-2')]);
    assert.deepEqual(
      ports((await rfc.passingInstances({ service: 'greeter', datacenter: 'dc1' }, undefined, 30, never)).value),
      ports(all.value),
    );
    // Not a service: an answer meaning "none", not an error.
    assert.deepEqual((await source.passingInstances({ service: 'no-such-service' }, undefined, 30, never)).value, []);
  });

  it('finds a Connect-native backend through <service>.connect, and only it', async () => {
    const source = dnsHealthSource({ servers: [coredns.address] });
    await addGreeter({ id: 'dns-connect', tags: ['mtls'], connect: true });
    await eventually(
      async () =>
        ports((await source.passingInstances({ service: 'greeter', connect: true }, undefined, 30, never)).value).join() ===
        String(portOf('dns-connect')),
      15_000,
      'the Connect instance in DNS',
    );
  });

  it('serves a ServiceWatch: a cold start, then a new instance within TTL + 1 s of passing', async () => {
    const source = dnsHealthSource({ servers: [coredns.address] });
    const watch = new ServiceWatch(
      { service: 'greeter', tag: 'v2' },
      source,
      () => ({ waitSeconds: 30, minIntervalMs: 0, backoffBaseMs: 100, backoffMaxMs: 1_000 }),
      silentLog,
    );
    try {
      assert.deepEqual(ports((await watch.waitForFirst(5_000)) ?? []), [portOf('dns-2')]);
      const g = await addGreeter({ id: 'dns-2b', tags: ['v2'] });
      const passingAt = Date.now();
      await eventually(() => ports(watch.current() ?? []).includes(g.port), 15_000, 'dns-2b in the watch');
      const lagMs = Date.now() - passingAt;
      console.log(`[dns] new instance reached the watch ${lagMs} ms after it passed in Consul`);
      assert.ok(lagMs <= (CONSUL_DNS_TTL_SECONDS + 1) * 1000 + 200, `after ${lagMs} ms`);
    } finally {
      watch.stop();
    }
  });

  it('serves the rpc route too: DISCOVERY_SOURCE=dns routes its calls through CoreDNS', async () => {
    const saved = { ...process.env };
    try {
      useRpcEnvironment(consul.address, await provisionRpcToken(admin, ['greeter']));
      Object.assign(process.env, { DISCOVERY_SOURCE: 'dns', CONSUL_DNS_ADDR: coredns.address });
      rpcRuntime.reset();
      const r = await callRpc('POST', '/rpc/helloworld.Greeter/SayHello', { body: { name: 'Ada' } });
      assert.equal(r.status, 200, r.raw);
      assert.match((r.body as { message: string }).message, /Hello, Ada! \(from dns-\w+\)/);
      const rt = rpcRuntime.get();
      assert.equal(rt.discovery.snapshot().source, 'dns');
      assert.ok((rt.discovery.snapshot().dnsLookups ?? 0) > 0, 'the calls were routed by DNS answers');
    } finally {
      rpcRuntime.reset();
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });

  it('serves only the consul. zone: any other name is refused, never forwarded', async () => {
    const r = new Resolver({ timeout: 1_000, tries: 1 });
    r.setServers([coredns.address]);
    await assert.rejects(r.resolve4('example.com'), (e: NodeJS.ErrnoException) => e.code === 'EREFUSED');
  });

  it('drops a critical instance within TTL + 1 s of Consul marking it (only_passing)', async () => {
    const g = await addGreeter({ id: 'dns-doomed', tags: ['doomed'] });
    const source = dnsHealthSource({ servers: [coredns.address] });
    const query: ServiceQuery = { service: 'greeter' };
    await eventually(
      async () => ports((await source.passingInstances(query, undefined, 30, never)).value).includes(g.port),
      15_000,
      'dns-doomed in DNS',
    );
    // A watch as ServiceWatch runs it: the emulated blocking call, again and again.
    let latest = await source.passingInstances(query, undefined, 30, never);
    const stop = new AbortController();
    let goneAt: number | undefined;
    const watching = (async () => {
      while (!stop.signal.aborted && goneAt === undefined) {
        latest = await source.passingInstances(query, latest.index, 30, stop.signal);
        if (!ports(latest.value).includes(g.port)) goneAt = Date.now();
      }
    })().catch(() => undefined);
    await stopProcess(g.process, 'SIGKILL', 0);
    await eventually(
      async () => !(await passingIds(admin, 'greeter')).includes('dns-doomed'),
      15_000,
      'Consul marking dns-doomed critical',
    );
    const criticalAt = Date.now();
    await eventually(() => goneAt !== undefined, 15_000, 'dns-doomed gone from the DNS source');
    stop.abort();
    await watching;
    const lagMs = Math.max(0, goneAt! - criticalAt);
    console.log(`[dns] critical instance left the DNS answers ${lagMs} ms after Consul marked it (TTL ${CONSUL_DNS_TTL_SECONDS} s)`);
    assert.ok(lagMs <= (CONSUL_DNS_TTL_SECONDS + 1) * 1000, `gone after ${lagMs} ms`);
  });

  it('invalidate looks again at once instead of waiting out the refresh', async () => {
    // Straight at Consul DNS (no cache between, so a new lookup sees the new instance), and
    // refreshes 20 s apart, so only the invalidation can explain a quick answer.
    const source = dnsHealthSource({ servers: [consul.dnsAddress!], minRefreshMs: 20_000, emptyRefreshMs: 20_000 });
    const query: ServiceQuery = { service: 'greeter', tag: 'late' };
    const first = await source.passingInstances(query, undefined, 30, never);
    assert.deepEqual(first.value, []);
    let answered: number | undefined;
    const pending = source.passingInstances(query, first.index, 30, never).then((r) => ((answered = Date.now()), r));
    const g = await addGreeter({ id: 'dns-late', tags: ['late'] });
    const direct = new Resolver({ timeout: 1_000, tries: 1 });
    direct.setServers([consul.dnsAddress!]);
    await eventually(
      async () => (await direct.resolveSrv('late.greeter.service.consul').catch(() => [])).some((r) => r.port === g.port),
      10_000,
      'dns-late in Consul DNS',
    );
    assert.equal(answered, undefined, 'the wait was still pending');
    const invalidatedAt = Date.now();
    source.invalidate(query);
    const res = await pending;
    const tookMs = answered! - invalidatedAt;
    console.log(`[dns] invalidate: new instance served ${tookMs} ms after the invalidation (next refresh was ≥ 20 s away)`);
    assert.deepEqual(ports(res.value), [g.port]);
    assert.equal(res.index, '2');
    assert.ok(tookMs < 1_000, `answered ${tookMs} ms after invalidate`);
  });

  it('a dead DNS server gives the typed unreachable error within its timeout; a silent one too; SERVFAIL when Consul is out of reach', async () => {
    const dead = dnsHealthSource({ servers: [`127.0.0.1:${await freePort()}`], timeoutMs: 300, tries: 1 });
    let started = Date.now();
    await assert.rejects(
      dead.passingInstances({ service: 'greeter' }, undefined, 30, never),
      (e: unknown) => e instanceof DnsLookupError && e.kind === 'unreachable' && e.noAnswer,
    );
    assert.ok(Date.now() - started < 2_000, `dead server: ${Date.now() - started} ms`);

    const silent = await startCoreDns({ upstreams: [consul.dnsAddress!] });
    stoppers.push(() => silent.stop());
    silent.process.child.kill('SIGSTOP');
    try {
      const source = dnsHealthSource({ servers: [silent.address], timeoutMs: 300, tries: 1 });
      started = Date.now();
      await assert.rejects(
        source.passingInstances({ service: 'greeter' }, undefined, 30, never),
        (e: unknown) => e instanceof DnsLookupError && e.kind === 'unreachable' && e.noAnswer,
      );
      const tookMs = Date.now() - started;
      console.log(`[dns] silent server: unreachable after ${tookMs} ms (timeout 300 ms, 1 try)`);
      assert.ok(tookMs < 2_000, `silent server: ${tookMs} ms`);
    } finally {
      silent.process.child.kill('SIGCONT');
    }

    const orphan = await startCoreDns({ upstreams: [`127.0.0.1:${await freePort()}`] });
    stoppers.push(() => orphan.stop());
    const source = dnsHealthSource({ servers: [orphan.address], timeoutMs: 3_000, tries: 1 });
    await assert.rejects(
      source.passingInstances({ service: 'greeter' }, undefined, 30, never),
      (e: unknown) => e instanceof DnsLookupError && e.kind === 'server_failure' && e.noAnswer,
    );
  });

  it('measured: queries reaching Consul follow names × 1/TTL, not the number of environments', async () => {
    const queries: ServiceQuery[] = [{ service: 'greeter' }, { service: 'greeter', tag: 'v1' }];
    const windowMs = 4 * CONSUL_DNS_TTL_SECONDS * 1000;
    const rows: { environments: number; toConsulPerS: number; servedPerS: number }[] = [];
    for (const environments of [1, 20, 200]) {
      const stop = new AbortController();
      const sources: DnsHealthSource[] = Array.from({ length: environments }, () =>
        dnsHealthSource({ servers: [coredns.address], timeoutMs: 2_000 }),
      );
      let answeredOnce = 0;
      const loops = sources.flatMap((source) =>
        queries.map(async (query) => {
          let index: string | undefined;
          let answered = false;
          while (!stop.signal.aborted) {
            try {
              index = (await source.passingInstances(query, index, 30, stop.signal)).index;
              if (!answered) answeredOnce++;
              answered = true;
            } catch {
              if (stop.signal.aborted) return;
              await new Promise((r) => setTimeout(r, 500));
            }
          }
        }),
      );
      // Every environment has made its cold-start lookup; then count over whole TTL periods.
      await eventually(() => answeredOnce === loops.length, 30_000, `${environments} environments' first answers`);
      const [consul0, served0, t0] = [await coredns.queriesToConsul(), await coredns.queriesServed(), Date.now()];
      await new Promise((r) => setTimeout(r, windowMs));
      const [consul1, served1, t1] = [await coredns.queriesToConsul(), await coredns.queriesServed(), Date.now()];
      stop.abort();
      await Promise.all(loops);
      const seconds = (t1 - t0) / 1000;
      rows.push({ environments, toConsulPerS: (consul1 - consul0) / seconds, servedPerS: (served1 - served0) / seconds });
    }
    console.log(`[dns] ${queries.length} names, TTL ${CONSUL_DNS_TTL_SECONDS} s, window ${windowMs / 1000} s each:`);
    for (const r of rows)
      console.log(
        `[dns]   ${String(r.environments).padStart(4)} environments: ${r.toConsulPerS.toFixed(2)} queries/s reach Consul, ${r.servedPerS.toFixed(1)} queries/s answered by CoreDNS`,
      );
    // Per name and TTL: the SRV query and the name's A query (each asked again over TCP when the
    // answer had more than 3 records), plus one A query per target, shared by all names (the
    // Greeters share one address): about names × 3 / TTL. Allow twice that for misses that overlap
    // at expiry on a busy machine.
    const bound = (queries.length * 3 * 2) / CONSUL_DNS_TTL_SECONDS + 0.5;
    for (const r of rows) assert.ok(r.toConsulPerS <= bound, `${r.environments} environments: ${r.toConsulPerS.toFixed(2)}/s > ${bound}/s`);
    const [one, , many] = rows;
    assert.ok(many!.servedPerS > 50 * one!.servedPerS, 'the environments did query CoreDNS');
    assert.ok(
      many!.toConsulPerS <= one!.toConsulPerS * 2 + 0.5,
      `Consul's load grew with the fleet: ${one!.toConsulPerS.toFixed(2)}/s → ${many!.toConsulPerS.toFixed(2)}/s`,
    );
  });
});
