// Failover on a real Consul cluster on loopback: 3 servers (raft_multiplier 1) and 2 client agents,
// ACLs on with default deny. The greet and status functions run in-process against a list of client
// agents while the chaos handle kills the leader, kills or freezes an agent.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { runtime as greetRuntime } from '../../functions/greet';
import { handler as instancesHandler, runtime as instancesRuntime } from '../../functions/instances';
import { handler as statusHandler, runtime as statusRuntime } from '../../functions/status';
import { gatewayTokens, registryToken as makeRegistryToken } from '../../scripts/stack/tokens';
import { createConsulApi, type ConsulApi } from '../../lib/consul/consul-api';
import { startConsulCluster, type ConsulCluster } from '../../scripts/stack/consul-cluster';
import { startGreeter, type GreeterBackend } from '../../scripts/stack/greeters';
import { freePort, stopProcess } from '../../scripts/stack/processes';
import { seedDefaultConfig } from '../../scripts/stack/seed-config';
import { eventually, httpEvent, invokeGreet, lambdaContext, passingIds } from './harness';

const PREFIX = 'config/greeter-gateway/cluster/';
let cluster: ConsulCluster;
let admin: ConsulApi;
let gatewayToken: string;
let registryToken: string;
const REGISTRY_PREFIX = 'config/instance-registry/cluster/';
const greeters: GreeterBackend[] = [];

const greet = (name: string) => invokeGreet(name);
async function status() {
  const res = await statusHandler(httpEvent('GET'), lambdaContext());
  assert.equal(res.statusCode, 200, res.body);
  return JSON.parse(res.body ?? '{}') as {
    config: Record<string, { value: unknown; source: string }>;
    configFreshness: { stale: boolean } | null;
    consulFailovers: number;
    consulAddressInUse: string;
  };
}
function useAddresses(...addresses: string[]): void {
  Object.assign(process.env, { CONSUL_HTTP_ADDR: addresses.join(','), CONSUL_HTTP_TOKEN: gatewayToken, CONFIG_PREFIX: PREFIX });
}
/** Greets in a loop until `stop()` resolves; returns what failed. */
async function greetWhile(stop: () => Promise<unknown>): Promise<{ sent: number; failed: string[] }> {
  let done = false;
  const failed: string[] = [];
  let sent = 0;
  const loop = (async () => {
    while (!done) {
      const r = await greet(`n${sent++}`);
      if (r.status !== 200) failed.push(`${r.status} ${r.body.error?.code ?? ''}`);
    }
  })();
  try {
    await stop();
  } finally {
    done = true;
    await loop;
  }
  return { sent, failed };
}
const client1 = () => cluster.clients[0]!;
const client2 = () => cluster.clients[1]!;

before(async () => {
  cluster = await startConsulCluster({ clients: 2 });
  admin = createConsulApi({ address: cluster.clients[0]!.address, token: cluster.managementToken });
  const tokens = await gatewayTokens(admin, PREFIX);
  gatewayToken = tokens.gatewayToken;
  const backendToken = tokens.backendToken;
  await seedDefaultConfig(admin, PREFIX, undefined, { callDeadlineMs: '1777', discoveryMinIntervalMs: '0', configMaxAgeSeconds: '0' });
  registryToken = await makeRegistryToken(admin, REGISTRY_PREFIX);
  // The backends live on the second agent, so the first can die without taking them along.
  for (const id of ['c-1', 'c-2'])
    greeters.push(await startGreeter({ id, consulAddress: cluster.clients[1]!.address, token: backendToken }));
  await eventually(async () => (await passingIds(admin, 'greeter')).length === 2, 15_000, 'both backends passing');
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
});
after(async () => {
  greetRuntime.reset();
  statusRuntime.reset();
  instancesRuntime.reset();
  await Promise.all(greeters.map((g) => stopProcess(g.process, 'SIGKILL')));
  admin?.destroy();
  await cluster?.stop();
});
beforeEach(async () => {
  greetRuntime.reset();
  statusRuntime.reset();
  // Whatever a test broke comes back before the next one.
  for (const n of cluster.nodes) {
    if (n.frozen) cluster.thaw(n);
    if (n.process.child.exitCode !== null || n.process.child.signalCode !== null) await cluster.restart(n);
  }
  await cluster.waitForLeader();
  useAddresses(client1().address, client2().address);
});

describe('functions on a Consul cluster through elections and dead agents', { timeout: 120_000 }, () => {
  it('serves every warm invocation while the leader is SIGKILLed and a new one elected', async () => {
    assert.equal((await greet('warm-up')).status, 200);
    const old = await cluster.waitForLeader();
    const r = await greetWhile(async () => {
      await cluster.kill(old);
      const next = await cluster.waitForLeader(20_000);
      assert.notEqual(next.name, old.name);
    });
    assert.deepEqual(r.failed, [], `${r.sent} sent`);
    assert.ok(r.sent > 20, `traffic flowed through the election (${r.sent} requests)`);
  });

  it('comes up with its K/V config, not the defaults, when it starts cold during an election', async (t) => {
    const normalStart = Date.now();
    assert.equal((await status()).config.callDeadlineMs?.value, 1777);
    const normal = Date.now() - normalStart;
    statusRuntime.reset();
    const old = await cluster.waitForLeader();
    await cluster.kill(old);
    const t0 = Date.now();
    const s = await status();
    const elapsed = Date.now() - t0;
    assert.deepEqual(s.config.callDeadlineMs, { value: 1777, source: 'kv' });
    t.diagnostic(`cold start during the election: ${elapsed} ms (outside it: ${normal} ms)`);
    // A bound, not a speed figure (those live in bench/): a read that needed the leader could be
    // held by a follower for rpc_hold_timeout (7 s); the stale read joins after 200 ms instead.
    assert.ok(elapsed < 3_500, `cold start during the election took ${elapsed} ms (outside it: ${normal} ms)`);
    assert.ok(s.configFreshness, 'the read says how fresh it was');
  });

  it('moves to the next agent when its agent is SIGKILLed, without a failed invocation', async () => {
    assert.equal((await greet('warm-up')).status, 200);
    const r = await greetWhile(async () => {
      await cluster.kill(client1());
      // Long enough for the watch's poll, the lease renewal and a refresh to meet the dead agent.
      await eventually(() => greetRuntime.get().consul.failovers > 0, 15_000, 'the gateway to move to the next agent');
    });
    assert.deepEqual(r.failed, [], `${r.sent} sent`);
    const s = await status();
    assert.equal(s.config.callDeadlineMs?.source, 'kv');
    assert.equal(greetRuntime.get().consul.address, `http://${client2().address}`);
    // The lease follows: it is registered again on the agent that answers.
    await eventually(
      async () => {
        await greet('renew');
        return greetRuntime.get().lease.snapshot().registered && greetRuntime.get().lease.snapshot().failures === 0;
      },
      15_000,
      'the lease on the next agent',
    );
  });

  it('answers within 2 s at cold start when Consul does not answer at all', async () => {
    // A frozen agent holds its port open and answers nothing: the worst case for timeouts.
    cluster.freeze(client1());
    useAddresses(client1().address);
    const t0 = Date.now();
    const r = await greet('Ada');
    const elapsed = Date.now() - t0;
    assert.equal(r.status, 503);
    assert.ok(elapsed < 2_000, `answered in ${elapsed} ms`);
    greetRuntime.reset();
    useAddresses(`127.0.0.1:${await freePort()}`);
    const t1 = Date.now();
    assert.equal((await greet('Ada')).status, 503);
    assert.ok(Date.now() - t1 < 2_000, `refused connections answered in ${Date.now() - t1} ms`);
  });

  it('lets a registry write made during an election wait for the new leader instead of failing', async () => {
    Object.assign(process.env, {
      CONSUL_HTTP_ADDR: `${client1().address},${client2().address}`,
      CONSUL_HTTP_TOKEN: registryToken,
      CONFIG_PREFIX: REGISTRY_PREFIX,
      REGISTRY_SIGNING_KEY: randomBytes(32).toString('hex'),
    });
    instancesRuntime.reset();
    const post = (key: string) =>
      instancesHandler(
        {
          httpMethod: 'POST',
          resource: '/instances',
          headers: { 'content-type': 'application/json', 'idempotency-key': key },
          body: JSON.stringify({ service: 'ephemeral-job', address: '10.0.0.7', port: 8080 }),
          requestContext: { identity: { apiKeyId: 'test-key' } },
        } as unknown as APIGatewayProxyEvent,
        lambdaContext(10_000),
      );
    // Warm: config, token and signer are in place, so only the writes meet the election.
    assert.equal((await post(`warm-${randomBytes(8).toString('hex')}`)).statusCode, 201);
    await cluster.kill(await cluster.waitForLeader());
    const t0 = Date.now();
    const res = await post(`during-election-${randomBytes(8).toString('hex')}`);
    assert.equal(res.statusCode, 201, res.body);
    assert.ok(Date.now() - t0 < 9_000, `answered within the Lambda's time (${Date.now() - t0} ms)`);
    instancesRuntime.reset();
  });
});
