// Datacenter failover on real parts: two single-server Consul datacenters joined over the WAN on
// loopback (dc2 replicates dc1's ACLs), two Greeters in dc1 and one in dc2, and the greet function in
// dc1 with greeterFailoverDatacenters=dc2.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runtime } from '../../functions/greet';
import { gatewayTokens } from '../../scripts/stack/tokens';
import { createConsulApi, type ConsulApi } from '../../lib/consul/consul-api';
import { startConsulAgent, type ConsulAgent } from '../../scripts/stack/consul-agent';
import { startGreeter, type GreeterBackend } from '../../scripts/stack/greeters';
import { stopProcess } from '../../scripts/stack/processes';
import { seedDefaultConfig } from '../../scripts/stack/seed-config';
import { eventually, invokeGreet, passingIds } from './harness';

const PREFIX = 'config/greeter-gateway/dcs/';
let dc1: ConsulAgent;
let dc2: ConsulAgent | undefined;
let admin: ConsulApi;
let dc2Admin: ConsulApi;
let backendToken: string;
const greeters: GreeterBackend[] = [];
const LOCAL = ['local-1', 'local-2'];

type Served = { id: string; datacenter?: string };
async function greet(name: string) {
  const { status, body } = await invokeGreet(name);
  return { status, servedBy: body.servedBy as Served | undefined, code: body.error?.code };
}
type Greeting = Awaited<ReturnType<typeof greet>> & { at: number };

/** Greets back to back until stopped; every answer is kept with the time it came back. */
function steadyTraffic() {
  const answers: Greeting[] = [];
  let stopping = false;
  const done = (async () => {
    for (let i = 0; !stopping; i++) answers.push({ ...(await greet(`t${i}`)), at: Date.now() });
  })();
  return {
    answers,
    stop: async () => {
      stopping = true;
      await done;
    },
  };
}

/** The local backends that are not running, started again on their ports. */
async function restartLocal(): Promise<void> {
  for (const id of LOCAL) {
    const old = greeters.filter((g) => g.id === id).at(-1);
    if (old && old.process.child.exitCode === null && old.process.child.signalCode === null) continue;
    greeters.push(await startGreeter({ id, ...(old ? { port: old.port } : {}), consulAddress: dc1.address, token: backendToken }));
  }
  await eventually(
    async () => {
      const passing = await passingIds(admin, 'greeter');
      return LOCAL.every((id) => passing.includes(id));
    },
    20_000,
    'the local backends passing again',
  );
}

before(async () => {
  dc1 = await startConsulAgent();
  dc2 = await startConsulAgent({
    datacenter: 'dc2',
    primary: { datacenter: 'dc1', wanAddress: dc1.wanAddress, managementToken: dc1.managementToken },
  });
  admin = createConsulApi({ address: dc1.address, token: dc1.managementToken });
  dc2Admin = createConsulApi({ address: dc2.address, token: dc1.managementToken });
  await eventually(
    async () => {
      const res = await fetch(`http://${dc1.address}/v1/catalog/datacenters`, { signal: AbortSignal.timeout(1_000) });
      return ((await res.json()) as string[]).includes('dc2');
    },
    20_000,
    'dc1 and dc2 joined over the WAN',
  );
  const tokens = await gatewayTokens(admin, PREFIX);
  const gatewayToken = tokens.gatewayToken;
  backendToken = tokens.backendToken;
  // Tokens are made in the primary; the backend in dc2 can register once dc2 knows its token.
  await eventually(
    async () => {
      const res = await fetch(`http://${dc2?.address}/v1/acl/token/self`, {
        headers: { 'x-consul-token': backendToken },
        signal: AbortSignal.timeout(1_000),
      });
      return res.ok;
    },
    20_000,
    'dc2 to accept tokens made in dc1',
  );
  await seedDefaultConfig(admin, PREFIX, undefined, {
    greeterFailoverDatacenters: 'dc2',
    discoveryMinIntervalMs: '0',
    configMaxAgeSeconds: '0',
    leaseEnabled: 'false',
  });
  for (const id of LOCAL) greeters.push(await startGreeter({ id, consulAddress: dc1.address, token: backendToken }));
  greeters.push(await startGreeter({ id: 'remote-1', consulAddress: dc2.address, token: backendToken }));
  await eventually(
    async () => (await passingIds(admin, 'greeter')).length === LOCAL.length && (await passingIds(dc2Admin, 'greeter')).length === 1,
    15_000,
    'the passing backends in each datacenter',
  );
  Object.assign(process.env, { CONSUL_HTTP_ADDR: dc1.address, CONSUL_HTTP_TOKEN: gatewayToken, CONFIG_PREFIX: PREFIX });
  runtime.reset();
});
after(async () => {
  runtime.reset();
  await Promise.all(greeters.map((g) => stopProcess(g.process, 'SIGKILL')));
  admin?.destroy();
  dc2Admin?.destroy();
  await dc2?.stop();
  await dc1?.stop();
});

describe('datacenter failover', { timeout: 120_000 }, () => {
  it('serves from the local datacenter while it has a passing instance', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await greet(`l${i}`);
      assert.equal(r.status, 200, r.code);
      assert.ok(r.servedBy && LOCAL.includes(r.servedBy.id), r.servedBy?.id);
      assert.equal(r.servedBy?.datacenter, undefined);
    }
  });

  it('loses no request when every local backend is SIGKILLed while requests flow: the calls move to dc2 before Consul notices', async () => {
    const traffic = steadyTraffic();
    let killedAt = 0;
    let criticalAt = 0;
    try {
      await eventually(() => traffic.answers.filter((a) => a.status === 200).length >= 10, 20_000, 'traffic served locally');
      killedAt = Date.now();
      await Promise.all(greeters.filter((g) => LOCAL.includes(g.id)).map((g) => stopProcess(g.process, 'SIGKILL', 0)));
      await eventually(
        async () => (await passingIds(admin, 'greeter')).length === 0,
        20_000,
        'Consul to mark every local backend critical',
      );
      criticalAt = Date.now();
      // Requests keep flowing after the switch of the watch too.
      await eventually(() => traffic.answers.filter((a) => a.at > criticalAt).length >= 10, 20_000, 'traffic after Consul noticed');
    } finally {
      await traffic.stop();
    }
    const after = traffic.answers.filter((a) => a.at > killedAt);
    const failed = after.filter((a) => a.status !== 200);
    assert.deepEqual(
      failed.map((a) => a.code),
      [],
      `${failed.length} of ${after.length} requests failed after the kill`,
    );
    // Every answer after the kill came from dc2; those before Consul noticed were failed over within the call.
    const late = after.filter((a) => a.at > killedAt + 100);
    assert.ok(late.length > 0);
    assert.deepEqual(new Set(late.map((a) => `${a.servedBy?.id}@${a.servedBy?.datacenter}`)), new Set(['remote-1@dc2']));

    await restartLocal();
    await eventually(
      async () => {
        const back = await greet('y');
        return back.status === 200 && LOCAL.includes(back.servedBy?.id ?? '') && back.servedBy?.datacenter === undefined;
      },
      15_000,
      'requests back in the local datacenter',
    );
  });

  it('does not retry an application error (INVALID_ARGUMENT) in dc2', async () => {
    const bad = await startGreeter({
      id: 'local-bad',
      failRate: 1,
      failCode: 'INVALID_ARGUMENT',
      consulAddress: dc1.address,
      token: backendToken,
    });
    greeters.push(bad);
    try {
      await Promise.all(greeters.filter((g) => LOCAL.includes(g.id)).map((g) => stopProcess(g.process, 'SIGKILL', 0)));
      await eventually(
        async () => (await passingIds(admin, 'greeter')).join() === 'local-bad',
        20_000,
        'local-bad as the only passing local backend',
      );
      // Until the channel has connected to local-bad, a call is refused and fails over, as it should;
      // a failover on INVALID_ARGUMENT would make every call a 200 from dc2 and time this wait out.
      await eventually(async () => (await greet('bad')).status === 502, 10_000, 'local-bad answering');
      for (let i = 0; i < 5; i++) {
        const r = await greet(`bad${i}`);
        assert.deepEqual(
          { status: r.status, code: r.code, servedBy: r.servedBy },
          { status: 502, code: 'BACKEND_ERROR', servedBy: undefined },
        );
      }
    } finally {
      await stopProcess(bad.process, 'SIGKILL', 0);
    }
    await restartLocal();
  });
});
