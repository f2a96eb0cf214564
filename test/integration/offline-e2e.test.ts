// End to end over HTTP: the real Serverless CLI with serverless-offline, real
// Consul (ACLs on), three real Greeter backends, one SIGKILLed mid-run.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { registryToken as makeRegistryToken } from '../../scripts/stack/tokens';
import { createConsulApi } from '../../lib/consul/consul-api';
import { seedDefaultConfig } from '../../scripts/stack/seed-config';
import { stopProcess } from '../../scripts/stack/processes';
import { eventually, startTestStack, type TestStack } from './harness';
import { startOfflineApi, type OfflineApi } from './offline-api';

let stack: TestStack;
let offline: OfflineApi | undefined;

/** The public routes, called without the API key; `withKey` for the private ones. */
const get = (path: string, withKey = false) => offline!.call('GET', path, { noKey: !withKey });
const post = (body: string, contentType = 'application/json') =>
  offline!.call('POST', '/greet', { raw: body, noKey: true, headers: { 'content-type': contentType } });

before(async () => {
  stack = await startTestStack('config/greeter-gateway/local/');
  const admin = createConsulApi({ address: stack.consul.address, token: stack.consul.managementToken });
  await seedDefaultConfig(admin, stack.prefix);
  admin.destroy();
  for (const id of ['e2e-1', 'e2e-2', 'e2e-3']) await stack.addGreeter({ id });
  const registryToken = await makeRegistryToken(stack.admin, 'config/instance-registry/local/');
  offline = await startOfflineApi(stack, registryToken, { LOG_LEVEL: 'INFO' });
});
after(async () => {
  await offline?.stop();
  await stack?.stop();
});

describe('HTTP through serverless-offline', () => {
  it('GET /hello/{name} and POST /greet answer from a discovered backend', async () => {
    const a = await get('/hello/Ada%20Lovelace');
    assert.equal(a.status, 200, a.text);
    assert.match(String(a.body.message), /Hello, Ada Lovelace!/);
    assert.match(String((a.body.servedBy as { id: string }).id), /^e2e-\d$/);
    const b = await post('{"name":"Grace"}');
    assert.equal(b.status, 200, b.text);
    assert.match(String(b.body.message), /Hello, Grace!/);
  });

  it('rejects bad input with a JSON error and the right status, never a stack trace', async () => {
    const cases: [Promise<Awaited<ReturnType<typeof get>>>, number, string][] = [
      [get(`/hello/${'x'.repeat(129)}`), 400, 'INVALID_INPUT'],
      [get('/hello/a%07b'), 400, 'INVALID_INPUT'],
      [post('{"name":'), 400, 'INVALID_INPUT'],
      [post('{"name":""}'), 400, 'INVALID_INPUT'],
      [post('{"name":"a","extra":1}'), 400, 'INVALID_INPUT'],
      [post('["Ada"]'), 400, 'INVALID_INPUT'],
      [post('name=Ada', 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      [post(JSON.stringify({ name: 'a'.repeat(40_000) })), 413, 'PAYLOAD_TOO_LARGE'],
      // Names that draw nothing: the gateway refuses them instead of the backend (was a 502).
      ...['%20', '%20%20', '%E2%80%8B', '%E2%80%A8', '%EF%BB%BF', '%E3%85%A4'].map(
        (n) => [get(`/hello/${n}`), 400, 'INVALID_INPUT'] as [Promise<Awaited<ReturnType<typeof get>>>, number, string],
      ),
      [post('{"name":" \u200b "}'), 400, 'INVALID_INPUT'],
      // Falsy JSON bodies, which serverless-offline hands over parsed (were a 500).
      ...['0', 'false', '0.0', '-0', 'null'].flatMap(
        (b) =>
          [
            [post(b), 400, 'INVALID_INPUT'],
            [offline!.call('POST', '/instances', { raw: b }), 400, 'INVALID_INPUT'],
          ] as [Promise<Awaited<ReturnType<typeof get>>>, number, string][],
      ),
    ];
    for (const [pending, status, code] of cases) {
      const r = await pending;
      assert.equal(r.status, status, r.text);
      assert.equal((r.body.error as { code: string }).code, code, r.text);
      assert.doesNotMatch(r.text, /\n\s+at |\.ts:\d+|node_modules/);
    }
  });

  it('GET /status needs the API key, then shows config sources, instances and the Consul index, token redacted', async () => {
    assert.equal((await get('/status')).status, 403);
    const r = await get('/status', true);
    assert.equal(r.status, 200, r.text);
    const cfg = r.body.config as Record<string, { value: unknown; source: string }>;
    assert.deepEqual(cfg.maxAttempts, { value: 3, source: 'kv' });
    assert.equal(cfg.consulToken?.value, '[redacted]');
    assert.match(String(r.body.configIndex), /^\d+$/);
    assert.doesNotMatch(r.text, new RegExp(stack.gatewayToken));
  });

  it('loses no request when a backend is SIGKILLed while requests flow', async () => {
    const statuses = new Map<number, number>();
    const servedBy = new Set<string>();
    let stop = false;
    const failures: string[] = [];
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const r = await get(`/hello/w${w}-${i}`);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status !== 200) failures.push(r.text);
        else servedBy.add((r.body.servedBy as { id: string }).id);
      }
    };
    const workers = [1, 2, 3, 4].map(worker);
    const total = () => [...statuses.values()].reduce((a, b) => a + b, 0);
    const dropped = async () => {
      const s = await get('/status', true);
      const inst = (s.body.discovery as { instances: { id: string }[] }[])[0]?.instances ?? [];
      return inst.length === 2 && !inst.some((i) => i.id === 'e2e-2');
    };
    try {
      await eventually(() => servedBy.has('e2e-2') && total() > 20, 10_000, 'traffic through every backend');
      const victim = stack.greeters.find((g) => g.id === 'e2e-2');
      assert.ok(victim);
      await stopProcess(victim.process, 'SIGKILL');
      // Requests keep flowing through the whole window in which Consul still lists the victim.
      await eventually(dropped, 10_000, 'Consul to drop the killed backend');
      const afterDrop = total();
      await eventually(() => total() >= afterDrop + 20, 10_000, 'traffic after the drop');
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    assert.deepEqual(failures, [], `statuses: ${JSON.stringify([...statuses])}`);
    assert.ok(total() > 50, `enough traffic flowed (${total()} requests)`);
  });

  it('never writes the token to the logs', () => {
    const logs = offline?.server.process.output.join('\n') ?? '';
    assert.ok(logs.length > 0);
    assert.equal(logs.includes(stack.gatewayToken), false);
  });
});
