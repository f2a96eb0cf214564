// The session-mode environment lease on a real 3-server cluster with two client agents and ACLs:
// renewals spread over both agents (as a load balancer in front of several agents spreads them)
// keep one session and one key, where the agent mode registers again on every agent switch; the
// key goes when renewals stop; SIGTERM destroys the session; the token may write nothing else.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gatewayToken } from '../../scripts/stack/tokens';
import { deregisterService } from '../../lib/consul/agent';
import { createConsulApi, type ConsulApi } from '../../lib/consul/consul-api';
import { ConsulRequestError } from '../../lib/consul/errors';
import { kvPut } from '../../lib/consul/kv';
import { acquireKey, createTtlSession, destroySession } from '../../lib/consul/session';
import { EnvironmentLease, type LeaseSettings } from '../../lib/lease/environment-lease';
import { sessionLeaseKey } from '../../lib/lease/session-lease-store';
import { silentLog } from '../../lib/log/logger';
import { startConsulCluster, type ConsulCluster } from '../../scripts/stack/consul-cluster';
import { startProcess, stopProcess, waitForLine } from '../../scripts/stack/processes';
import { eventually } from './harness';

const SERVICE = 'greeter-gateway-lambda';
const LEASE_PREFIX = 'lambda-leases';
const CONFIG_PREFIX = 'config/greeter-gateway/lease-session/';
const SESSION: LeaseSettings = { service: SERVICE, ttlSeconds: 10, deregisterAfterSeconds: 60, mode: 'session', prefix: LEASE_PREFIX };
const AGENT: LeaseSettings = { ...SESSION, mode: 'agent' };

let cluster: ConsulCluster;
let admin: ConsulApi;
let sessionToken: string;
let agentToken: string;
const opened: ConsulApi[] = [];

/** A client per agent, each with `token`. */
function perAgent(token: string): ConsulApi[] {
  const apis = cluster.clients.map((c) => createConsulApi({ address: c.address, token, timeoutMs: 5_000 }));
  opened.push(...apis);
  return apis;
}

/**
 * Sends each request to the next agent in turn, as a load balancer over several agents does.
 * Every request still goes to a real agent; only the choice of agent is made here.
 */
function roundRobin(apis: ConsulApi[]): ConsulApi & { sentTo: number[] } {
  let next = 0;
  const sentTo: number[] = [];
  const pick = () => {
    const i = next++ % apis.length;
    sentTo.push(i);
    return apis[i]!;
  };
  return {
    sentTo,
    get address() {
      return apis[0]!.address;
    },
    get failovers() {
      return 0;
    },
    get requestCounts() {
      return apis[0]!.requestCounts;
    },
    get requestErrors() {
      return 0;
    },
    call: (op, opts, run) => pick().call(op, opts, run),
    callIndexed: (op, opts, run) => pick().callIndexed(op, opts, run),
    request: (op, opts, req) => pick().request(op, opts, req),
    requestIndexed: (op, opts, req) => pick().requestIndexed(op, opts, req),
    destroy: () => undefined,
  };
}

/** A lease whose clock the test moves forward, so every touch finds a renewal due without waiting a third of the TTL. */
function leaseWithClock(api: ConsulApi): { lease: EnvironmentLease; advance(ms: number): void } {
  let offset = 0;
  return { lease: new EnvironmentLease(api, silentLog, new Date(), () => Date.now() + offset), advance: (ms) => (offset += ms) };
}

async function adminGet<T>(path: string): Promise<T> {
  const res = await fetch(`http://${cluster.clients[0]!.address}/v1${path}`, {
    headers: { 'x-consul-token': cluster.managementToken },
    signal: AbortSignal.timeout(5_000),
  });
  if (res.status === 404) return undefined as T;
  return (await res.json()) as T;
}
const heldBy = async (key: string) => (await adminGet<{ Session?: string }[] | undefined>(`/kv/${key}`))?.[0]?.Session;
const catalogNodes = async (id: string) =>
  ((await adminGet<{ Node: string; ServiceID: string }[]>(`/catalog/service/${SERVICE}`)) ?? [])
    .filter((e) => e.ServiceID === id)
    .map((e) => e.Node)
    .sort();

before(async () => {
  cluster = await startConsulCluster({ clients: 2 });
  admin = createConsulApi({ address: cluster.clients[0]!.address, token: cluster.managementToken, timeoutMs: 5_000 });
  const scope = { configPrefix: CONFIG_PREFIX, leaseService: SERVICE, leasePrefix: LEASE_PREFIX };
  sessionToken = await gatewayToken(admin, { ...scope, lease: 'session' });
  agentToken = await gatewayToken(admin, { ...scope, lease: 'agent' });
});
after(async () => {
  for (const api of opened) api.destroy();
  admin?.destroy();
  await cluster?.stop();
});

describe('session-mode lease behind several agents', () => {
  it('keeps one session and one key when its renewals land on different agents; the agent mode registers again instead', async () => {
    const spread = roundRobin(perAgent(sessionToken));
    const { lease, advance } = leaseWithClock(spread);
    await lease.touch(SESSION);
    const first = lease.snapshot();
    assert.equal(first.registered, true, first.lastError);
    const key = sessionLeaseKey(LEASE_PREFIX, SERVICE, first.id ?? '');
    assert.equal(await heldBy(key), first.sessionId);
    // Bound to no check: neither the creating agent's serfHealth nor any service check.
    const [info] = await adminGet<{ NodeChecks?: string[] | null; ServiceChecks?: unknown[] | null; Behavior: string; TTL: string }[]>(
      `/session/info/${first.sessionId}`,
    );
    assert.deepEqual(
      { nodeChecks: info?.NodeChecks ?? [], serviceChecks: info?.ServiceChecks ?? [], behavior: info?.Behavior, ttl: info?.TTL },
      { nodeChecks: [], serviceChecks: [], behavior: 'delete', ttl: '10s' },
    );
    for (let i = 0; i < 4; i++) {
      advance(4_000);
      await lease.touch(SESSION);
      await eventually(async () => lease.snapshot().renewals === i + 2, 5_000, `renewal ${i + 1}`);
    }
    const after = lease.snapshot();
    assert.deepEqual(new Set(spread.sentTo), new Set([0, 1]), 'requests reached both agents');
    assert.deepEqual(
      { sessionId: after.sessionId, reRegistrations: after.reRegistrations, failures: after.failures },
      { sessionId: first.sessionId, reRegistrations: 0, failures: 0 },
    );
    assert.equal(await heldBy(key), first.sessionId);
    await lease.release(2_000);

    // The same spread in agent mode: each switch of agent answers the renewal 404 and registers again.
    const agentSpread = roundRobin(perAgent(agentToken));
    const agentLease = leaseWithClock(agentSpread);
    await agentLease.lease.touch(AGENT);
    for (let i = 0; i < 4; i++) {
      agentLease.advance(4_000);
      await agentLease.lease.touch(AGENT);
      await eventually(async () => agentLease.lease.snapshot().renewals === i + 2, 5_000, `agent-mode renewal ${i + 1}`);
    }
    const id = agentLease.lease.snapshot().id ?? '';
    // Per-request spread over two agents: every renewal reached the agent that did not hold the check,
    // was answered 404 and became a registration (the agent's heaviest write, synced to the servers).
    assert.deepEqual(
      { renewals: agentLease.lease.snapshot().renewals, reRegistrations: agentLease.lease.snapshot().reRegistrations },
      { renewals: 5, reRegistrations: 4 },
    );
    assert.deepEqual(await catalogNodes(id), ['client-1']);
    // Each agent removes only its own registration; the one without it answers 404.
    for (const api of perAgent(agentToken))
      await deregisterService(api, id).catch((e: unknown) => assert.ok(e instanceof ConsulRequestError && e.statusCode === 404, String(e)));
  });

  it('disappears between TTL and 2·TTL after its renewals stop', async () => {
    const [api] = perAgent(sessionToken);
    const lease = new EnvironmentLease(api!, silentLog);
    await lease.touch(SESSION);
    const { key, sessionId } = lease.snapshot();
    assert.equal(await heldBy(key ?? ''), sessionId);
    const stoppedAt = Date.now();
    await eventually(async () => (await heldBy(key ?? '')) === undefined, 30_000, 'the key to go with the lapsed session');
    const gone = Date.now() - stoppedAt;
    assert.ok(gone >= 9_000, `not before the TTL (${gone} ms)`);
    assert.equal((await adminGet<unknown[]>(`/session/info/${sessionId}`))?.length ?? 0, 0, 'the session ended');
  });

  it('is destroyed on SIGTERM, with its key, within a bounded time', async () => {
    await kvPut(admin, `${CONFIG_PREFIX}leaseMode`, 'session');
    await kvPut(admin, `${CONFIG_PREFIX}leaseTtlSeconds`, '10');
    const child = startProcess('lease child', process.execPath, ['--import', 'tsx', join(__dirname, 'fixtures', 'lease-child.ts')], {
      env: { ...process.env, CONSUL_HTTP_ADDR: cluster.clients[1]!.address, CONSUL_HTTP_TOKEN: sessionToken, CONFIG_PREFIX },
    });
    try {
      const id = (await waitForLine(child, /^LEASE (\S+)$/, 20_000))[1] ?? '';
      const key = sessionLeaseKey(LEASE_PREFIX, SERVICE, id);
      await eventually(async () => (await heldBy(key)) !== undefined, 5_000, 'the key held');
      const t0 = Date.now();
      child.child.kill('SIGTERM');
      assert.equal(await child.exited, 0);
      assert.ok(Date.now() - t0 < 2_000, 'exited promptly');
      assert.equal(await heldBy(key), undefined, 'the key went with the session');
    } finally {
      await stopProcess(child, 'SIGKILL');
    }
  });
});

describe('session-mode least privilege, enforced by Consul', () => {
  const denied = (e: unknown) => e instanceof ConsulRequestError && e.isPermissionDenied;

  it('lets the session token hold a key under its own lease prefix only, and register no service', async () => {
    const [api] = perAgent(sessionToken);
    const session = await createTtlSession(api!, { name: 'probe', ttlSeconds: 10 });
    try {
      assert.equal(await acquireKey(api!, `${LEASE_PREFIX}/${SERVICE}/probe`, 'x', session), true);
      await assert.rejects(acquireKey(api!, `${LEASE_PREFIX}/other-service-lambda/probe`, 'x', session), denied);
      await assert.rejects(acquireKey(api!, `${CONFIG_PREFIX}maxAttempts`, '9', session), denied);
      await assert.rejects(
        kvPut(api!, `other-prefix/${SERVICE}/probe`, 'x'),
        (e: unknown) => e instanceof ConsulRequestError && e.statusCode === 403,
      );
      await assert.rejects(
        api!.call('consul.agent.service.register', {}, (c, ctx) => c.agent.service.register({ ctx, id: 'probe', name: SERVICE })),
        denied,
      );
    } finally {
      await destroySession(api!, session);
    }
  });

  it('gives the agent-mode token no session', async () => {
    const [api] = perAgent(agentToken);
    await assert.rejects(createTtlSession(api!, { name: 'probe', ttlSeconds: 10 }), denied);
  });
});
