// Reading the health-sync mirror back: the attribute mapping reversed, the DiscoverInstances
// request, and the classification of its errors (throttled / no answer / an answer).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { DiscoverInstancesCommand, ServiceDiscoveryClient, ServiceNotFound } from '@aws-sdk/client-servicediscovery';
import { mockClient } from 'aws-sdk-client-mock';
import { INIT_HEALTH_KEY, instanceAttributes } from '../../../lib/cloudmap/attributes';
import {
  classifyDiscoverError,
  CloudMapDiscoveryError,
  createDiscoverInstancesClient,
  instanceFromAttributes,
  MAX_DISCOVERED,
} from '../../../lib/cloudmap/discover-instances';
import type { DesiredInstance } from '../../../lib/cloudmap/types';

const ROOT = join(__dirname, '..', '..', '..');
const desired = (o: Partial<DesiredInstance> = {}): DesiredInstance => ({
  id: 'g-1',
  ipv4: '10.0.0.7',
  port: 50051,
  tags: ['v2', 'grpc', 'v2'],
  meta: { version: '1.2', zone: 'a' },
  healthy: true,
  ...o,
});
const sdkError = (name: string, status?: number, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status }, ...extra });

let cm: ReturnType<typeof mockClient> | undefined;
afterEach(() => {
  cm?.restore();
  cm = undefined;
});

describe('instanceFromAttributes (the mirror read back)', () => {
  it('gives back address, port, tags and meta as instanceAttributes wrote them', () => {
    const inst = desired();
    const { attributes } = instanceAttributes(inst);
    assert.deepEqual(instanceFromAttributes(inst.id, { ...attributes, [INIT_HEALTH_KEY]: 'HEALTHY' }), {
      instanceId: 'g-1',
      address: '10.0.0.7',
      port: 50051,
      tags: ['grpc', 'v2'], // sorted and unique, as the mirror stores them
      meta: { version: '1.2', zone: 'a' },
    });
  });

  it('round-trips no tags, no meta, and leaves out what the mirror never publishes', () => {
    const bare = instanceAttributes(desired({ tags: [], meta: {} })).attributes;
    assert.deepEqual(instanceFromAttributes('g-1', bare), { instanceId: 'g-1', address: '10.0.0.7', port: 50051, tags: [], meta: {} });
    const withPrivate = instanceAttributes(desired({ meta: { 'lease-ttl': '30s', keep: 'yes' } })).attributes;
    assert.deepEqual(instanceFromAttributes('g-1', withPrivate)?.meta, { keep: 'yes' });
    const dropped = instanceAttributes(desired({ tags: ['a,b', 'c'] })).attributes;
    assert.deepEqual(instanceFromAttributes('g-1', dropped)?.tags, ['c'], 'a tag with a comma is dropped by the mirror, not split in two');
  });

  it('round-trips every instance the mirror can hold, at the limits too', () => {
    const meta = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${String(i).padStart(2, '0')}`, `v${i}`]));
    const inst = desired({ meta, tags: Array.from({ length: 20 }, (_, i) => `t${i}`) });
    const { attributes } = instanceAttributes(inst);
    const back = instanceFromAttributes(inst.id, attributes);
    assert.ok(back);
    // Whatever did not fit was dropped by the mirror; whatever it kept comes back unchanged.
    for (const [k, v] of Object.entries(back.meta)) assert.equal(meta[k], v);
    assert.deepEqual(back.tags, [...inst.tags].sort());
    assert.equal(Object.keys(attributes).filter((k) => k.startsWith('consul-meta-')).length, Object.keys(back.meta).length);
  });

  it('refuses an instance without a usable address or port', () => {
    assert.equal(instanceFromAttributes('x', { AWS_INSTANCE_PORT: '80' }), undefined);
    assert.equal(instanceFromAttributes('x', { AWS_INSTANCE_IPV4: '10.0.0.1' }), undefined);
    assert.equal(instanceFromAttributes('x', { AWS_INSTANCE_IPV4: '10.0.0.1', AWS_INSTANCE_PORT: '70000' }), undefined);
  });
});

describe('classifyDiscoverError', () => {
  it('throttling in every spelling is throttled, not "no answer"', () => {
    for (const err of [
      sdkError('ThrottlingException', 400),
      sdkError('RequestLimitExceeded', 400),
      sdkError('Whatever', 429),
      sdkError('ServiceUnavailable', 503, { message: 'Rate exceeded' }),
      sdkError('X', 400, { $retryable: { throttling: true } }),
    ]) {
      const e = classifyDiscoverError(err);
      assert.equal(e.kind, 'throttled', err.name);
      assert.equal(e.throttled, true);
      assert.equal(e.noAnswer, false);
    }
  });

  it('an endpoint that never answered is "no answer"', () => {
    for (const err of [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
      sdkError('TimeoutError'),
      new Error('socket hang up'),
      sdkError('ServiceUnavailable', 503),
    ]) {
      const e = classifyDiscoverError(err);
      assert.equal(e.kind, 'unreachable', err.message);
      assert.equal(e.noAnswer, true);
      assert.equal(e.throttled, false);
    }
  });

  it('a missing namespace or service, and anything else, are answers', () => {
    assert.equal(classifyDiscoverError(new ServiceNotFound({ message: 'no such service', $metadata: {} })).kind, 'not_found');
    const other = classifyDiscoverError(sdkError('InvalidInput', 400));
    assert.deepEqual([other.kind, other.noAnswer, other.throttled, other.code], ['failed', false, false, 'InvalidInput']);
    assert.ok(other instanceof CloudMapDiscoveryError);
    assert.match(other.message, /^DiscoverInstances: /);
  });
});

describe('createDiscoverInstancesClient', () => {
  it('asks for HEALTHY instances by namespace and service name and returns plain instances', async () => {
    cm = mockClient(ServiceDiscoveryClient);
    const a = instanceAttributes(desired()).attributes;
    cm.on(DiscoverInstancesCommand).resolves({
      Instances: [
        { InstanceId: 'g-1', Attributes: { ...a, AWS_INSTANCE_PORT: '1' } },
        { InstanceId: 'g-2', Attributes: { AWS_INSTANCE_PORT: '1' } }, // no address: not routable
        { InstanceId: 'g-1', Attributes: a }, // moto lists a re-registered id twice; the last copy wins
      ],
    });
    const client = createDiscoverInstancesClient({ region: 'eu-west-1', endpoint: 'http://127.0.0.1:1' });
    const got = await client.discover('mirror-ns', 'greeter');
    assert.deepEqual(got, [
      { instanceId: 'g-1', address: '10.0.0.7', port: 50051, tags: ['grpc', 'v2'], meta: { version: '1.2', zone: 'a' } },
    ]);
    assert.deepEqual(cm.commandCalls(DiscoverInstancesCommand)[0]?.args[0].input, {
      NamespaceName: 'mirror-ns',
      ServiceName: 'greeter',
      HealthStatus: 'HEALTHY',
      MaxResults: MAX_DISCOVERED,
    });
    assert.equal(client.calls, 1);
    client.close();
  });

  it('counts throttled calls and rejects with the typed error', async () => {
    cm = mockClient(ServiceDiscoveryClient);
    cm.on(DiscoverInstancesCommand).rejects(sdkError('RequestLimitExceeded', 400));
    const client = createDiscoverInstancesClient({ region: 'eu-west-1' });
    await assert.rejects(client.discover('ns', 'greeter'), (e: unknown) => e instanceof CloudMapDiscoveryError && e.throttled);
    assert.deepEqual([client.calls, client.throttledCalls], [1, 1]);
    client.close();
  });

  it('gives up on a call that does not answer within its timeout, as "no answer"', async () => {
    cm = mockClient(ServiceDiscoveryClient);
    cm.on(DiscoverInstancesCommand).callsFake(() => new Promise(() => undefined));
    const client = createDiscoverInstancesClient({ region: 'eu-west-1', timeoutMs: 100 });
    const started = Date.now();
    await assert.rejects(
      client.discover('ns', 'greeter'),
      (e: unknown) => e instanceof CloudMapDiscoveryError && e.noAnswer && /within 100 ms/.test(e.message),
    );
    assert.ok(Date.now() - started < 2_000, 'rejected soon after the timeout');
    client.close();
  });

  it('stops at once when the caller aborts, without calling it "no answer"', async () => {
    cm = mockClient(ServiceDiscoveryClient);
    cm.on(DiscoverInstancesCommand).callsFake(() => new Promise(() => undefined));
    const client = createDiscoverInstancesClient({ region: 'eu-west-1', timeoutMs: 30_000 });
    const ac = new AbortController();
    const call = client.discover('ns', 'greeter', ac.signal);
    setImmediate(() => ac.abort());
    await assert.rejects(call, (e: unknown) => e instanceof CloudMapDiscoveryError && e.kind === 'aborted' && !e.noAnswer);
    client.close();
  });

  it('a real call to a closed loopback port is "no answer"', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const client = createDiscoverInstancesClient({ region: 'eu-west-1', endpoint: `http://127.0.0.1:${port}`, timeoutMs: 2_000 });
    await assert.rejects(client.discover('ns', 'greeter'), (e: unknown) => e instanceof CloudMapDiscoveryError && e.noAnswer);
    client.close();
  });

  it('does not load the AWS SDK until the first call', () => {
    const script =
      "require('./lib/cloudmap/discover-instances.ts'); console.log(Object.keys(require.cache).filter((k) => k.includes('client-servicediscovery')).length)";
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    assert.equal(out.trim(), '0');
  });
});
