// Datacenter failover on real parts: two single-server Consul datacenters joined over the WAN on
// loopback (dc2 replicates dc1's ACLs), a Greeter in each, and the greet function in dc1 with
// greeterFailoverDatacenters=dc2.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runtime } from '../../functions/greet';
import { provisionToken } from '../../lib/consul/acl-admin';
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

type Served = { id: string; datacenter?: string };
async function greet(name: string) {
  const { status, body } = await invokeGreet(name);
  return { status, servedBy: body.servedBy as Served | undefined, code: body.error?.code };
}

before(async () => {
  dc1 = await startConsulAgent();
  dc2 = await startConsulAgent({ datacenter: 'dc2', primary: { datacenter: 'dc1', wanAddress: dc1.wanAddress, managementToken: dc1.managementToken } });
  admin = createConsulApi({ address: dc1.address, token: dc1.managementToken });
  dc2Admin = createConsulApi({ address: dc2.address, token: dc1.managementToken });
  await eventually(async () => {
    const res = await fetch(`http://${dc1.address}/v1/catalog/datacenters`, { signal: AbortSignal.timeout(1_000) });
    return ((await res.json()) as string[]).includes('dc2');
  }, 20_000, 'dc1 and dc2 joined over the WAN');
  const params = { configPrefix: PREFIX, greeterService: 'greeter', leaseService: 'greeter-gateway-lambda' };
  const gatewayToken = await provisionToken(admin, ['greeter-gateway', 'greeter-gateway-lease'], params);
  backendToken = await provisionToken(admin, 'greeter-backend', params);
  // Tokens are made in the primary; the backend in dc2 can register once dc2 knows its token.
  await eventually(async () => {
    const res = await fetch(`http://${dc2?.address}/v1/acl/token/self`, { headers: { 'x-consul-token': backendToken }, signal: AbortSignal.timeout(1_000) });
    return res.ok;
  }, 20_000, 'dc2 to accept tokens made in dc1');
  await seedDefaultConfig(admin, PREFIX, undefined, { greeterFailoverDatacenters: 'dc2', discoveryMinIntervalMs: '0', configMaxAgeSeconds: '0', leaseEnabled: 'false' });
  greeters.push(await startGreeter({ id: 'local-1', consulAddress: dc1.address, token: backendToken }));
  greeters.push(await startGreeter({ id: 'remote-1', consulAddress: dc2.address, token: backendToken }));
  await eventually(async () => (await passingIds(admin, 'greeter')).length === 1 && (await passingIds(dc2Admin, 'greeter')).length === 1, 15_000, 'a passing backend in each datacenter');
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

describe('datacenter failover', { timeout: 90_000 }, () => {
  it('serves from the local datacenter while it has a passing instance', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await greet(`l${i}`);
      assert.equal(r.status, 200, r.code);
      assert.deepEqual(r.servedBy && { id: r.servedBy.id, datacenter: r.servedBy.datacenter }, { id: 'local-1', datacenter: undefined });
    }
  });

  it('fails over to dc2 when every local backend is dead, and comes back when one returns', async () => {
    const local = greeters.find((g) => g.id === 'local-1');
    assert.ok(local);
    await stopProcess(local.process, 'SIGKILL');
    await eventually(async () => (await greet('x')).servedBy?.datacenter === 'dc2', 15_000, 'requests served from dc2');
    const r = await greet('remote');
    assert.equal(r.status, 200);
    assert.deepEqual(r.servedBy && { id: r.servedBy.id, datacenter: r.servedBy.datacenter }, { id: 'remote-1', datacenter: 'dc2' });
    greeters.push(await startGreeter({ id: 'local-1', port: local.port, consulAddress: dc1.address, token: backendToken }));
    await eventually(async () => {
      const back = await greet('y');
      return back.status === 200 && back.servedBy?.id === 'local-1' && back.servedBy.datacenter === undefined;
    }, 15_000, 'requests back in the local datacenter');
  });
});
