// Contract test of the consul: resolver with the pinned grpc-js: a real channel,
// real Greeter servers, a real Consul feeding addresses through the watch registry.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { credentials, Metadata } from '@grpc/grpc-js';
import { GreeterClient, type HelloReply } from '../../proto/gen/helloworld';
import { createConsulApi, type ConsulApi } from '../../lib/consul/consul-api';
import { consulHealthSource } from '../../lib/consul/health';
import { ServiceWatchRegistry } from '../../lib/consul/service-watch-registry';
import { consulTarget } from '../../lib/grpc/consul-target';
import { GREETER_CHANNEL_OPTIONS } from '../../lib/grpc/greeter-client-pool';
import { registerConsulResolver } from '../../lib/grpc/resolver-consul';
import { stopProcess } from '../../scripts/stack/processes';
import { eventually, startTestStack, type TestStack } from './harness';

let stack: TestStack;
let api: ConsulApi;
let registry: ServiceWatchRegistry;
let client: GreeterClient;

function sayHello(name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    client.sayHello({ name }, new Metadata(), { deadline: Date.now() + 2_000 }, (err: Error | null, reply?: HelloReply) =>
      err ? reject(err) : resolve(/\(from ([^)]+)\)/.exec(reply?.message ?? '')?.[1] ?? '?'),
    );
  });
}

before(async () => {
  stack = await startTestStack();
  for (const id of ['rr-1', 'rr-2', 'rr-3']) await stack.addGreeter({ id, tags: ['rr'] });
  api = createConsulApi({ address: stack.consul.address, token: stack.gatewayToken });
  registry = new ServiceWatchRegistry(consulHealthSource(api), () => ({ waitSeconds: 10, minIntervalMs: 0, backoffBaseMs: 50, backoffMaxMs: 500 }));
  registerConsulResolver(registry);
  client = new GreeterClient(consulTarget({ service: 'greeter', tag: 'rr' }), credentials.createInsecure(), GREETER_CHANNEL_OPTIONS);
});
after(async () => {
  client?.close();
  registry?.stopAll();
  api?.destroy();
  await stack?.stop();
});

describe('consul: resolver with grpc-js round_robin', () => {
  it('spreads calls over every passing instance', async () => {
    await sayHello('warm-up');
    await eventually(async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 12; i++) seen.add(await sayHello(`n${i}`));
      return seen.size === 3;
    }, 5_000, 'calls reaching all three instances');
  });

  it('stops routing to an instance once it leaves Consul', async () => {
    const gone = stack.greeters.find((g) => g.id === 'rr-2');
    assert.ok(gone);
    await stopProcess(gone.process, 'SIGTERM'); // deregisters, then drains
    const watch = registry.get({ service: 'greeter', tag: 'rr' });
    await eventually(() => !watch.current()?.some((i) => i.id === 'rr-2'), 5_000, 'rr-2 to leave the watch');
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) seen.add(await sayHello(`after${i}`));
    assert.deepEqual([...seen].sort(), ['rr-1', 'rr-3']);
  });

  it('follows a new instance within one blocking query', async () => {
    await stack.addGreeter({ id: 'rr-4', tags: ['rr'] });
    await eventually(async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 9; i++) seen.add(await sayHello(`new${i}`));
      return seen.has('rr-4');
    }, 5_000, 'calls reaching the new instance');
  });
});
