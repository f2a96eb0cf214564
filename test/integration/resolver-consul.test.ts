// Contract test of the consul: resolver with the pinned grpc-js: a real channel,
// real Greeter servers, a real Consul feeding addresses through the watch registry.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { credentials, Metadata } from '@grpc/grpc-js';
import { GreeterClient, type HelloReply } from '../../proto/gen/helloworld';
import { createConsulApi, type ConsulApi } from '../../lib/consul/consul-api';
import { consulHealthSource } from '../../lib/discovery/health-source';
import { ServiceWatchRegistry } from '../../lib/discovery/service-watch-registry';
import { consulTarget } from '../../lib/grpc/consul-target';
import { CHANNEL_OPTIONS as GREETER_CHANNEL_OPTIONS } from '../../lib/grpc/channel-pool';
import { consulResolverOptions, registerConsulResolver } from '../../lib/grpc/resolver-consul';
import { silentLog } from '../../lib/log/logger';
import { stopProcess } from '../../scripts/stack/processes';
import { eventually, startTestStack, type TestStack } from './harness';

let stack: TestStack;
let api: ConsulApi;
let registry: ServiceWatchRegistry;
let client: GreeterClient;
const WATCH_OPTIONS = () => ({ waitSeconds: 10, minIntervalMs: 0, backoffBaseMs: 50, backoffMaxMs: 500 });

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
  registry = new ServiceWatchRegistry(consulHealthSource(api), WATCH_OPTIONS, silentLog);
  registerConsulResolver();
  client = new GreeterClient(consulTarget({ service: 'greeter', tag: 'rr' }), credentials.createInsecure(), {
    ...GREETER_CHANNEL_OPTIONS,
    ...consulResolverOptions(registry),
  });
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
    await eventually(
      async () => {
        const seen = new Set<string>();
        for (let i = 0; i < 12; i++) seen.add(await sayHello(`n${i}`));
        return seen.size === 3;
      },
      5_000,
      'calls reaching all three instances',
    );
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
    await eventually(
      async () => {
        const seen = new Set<string>();
        for (let i = 0; i < 9; i++) seen.add(await sayHello(`new${i}`));
        return seen.has('rr-4');
      },
      5_000,
      'calls reaching the new instance',
    );
  });

  it('resolves each channel through the watches of its own runtime, however many runtimes the process holds', async () => {
    // A second runtime whose token may read nothing: its channels find no instance.
    const deniedApi = createConsulApi({ address: stack.consul.address, token: 'no-such-token' });
    const denied = new ServiceWatchRegistry(consulHealthSource(deniedApi), WATCH_OPTIONS, silentLog);
    const target = consulTarget({ service: 'greeter', tag: 'rr' });
    const deniedClient = new GreeterClient(target, credentials.createInsecure(), {
      ...GREETER_CHANNEL_OPTIONS,
      ...consulResolverOptions(denied),
    });
    // Built after the other one: with one process-wide registry, the last one built would win.
    const fresh = new GreeterClient(target, credentials.createInsecure(), {
      ...GREETER_CHANNEL_OPTIONS,
      ...consulResolverOptions(registry),
    });
    try {
      const call = (c: GreeterClient) =>
        new Promise<number>((resolve) =>
          c.sayHello({ name: 'x' }, new Metadata(), { deadline: Date.now() + 1_500 }, (err) => resolve(err ? err.code : 0)),
        );
      assert.equal(await call(fresh), 0, 'the first runtime still routes');
      assert.notEqual(await call(deniedClient), 0, 'the denied runtime finds nothing to route to');
    } finally {
      fresh.close();
      deniedClient.close();
      denied.stopAll();
      deniedApi.destroy();
    }
  });
});
