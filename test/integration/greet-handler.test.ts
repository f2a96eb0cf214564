// The greet and status functions called in-process, as Lambda calls them, against
// a real Consul (ACLs on, least-privilege token) and real Greeter backends.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { runtime as greetRuntime } from '../../functions/greet';
import { handler as statusHandler, runtime as statusRuntime } from '../../functions/status';
import { freePort } from '../../scripts/stack/processes';
import {
  captureOutput,
  eventually,
  httpEvent,
  invokeGreet,
  lambdaContext,
  startTestStack,
  type TestStack,
  useFunctionEnvironment,
} from './harness';

const greet = invokeGreet;
async function status() {
  const res = await statusHandler(httpEvent('GET'), lambdaContext());
  return JSON.parse(res.body ?? '{}') as {
    config: Record<string, { value: unknown; source: string }>;
    configProblems: { key: string; reason: string }[];
    discovery: { instances: { id: string }[] }[];
    consulRequests: Record<string, number>;
  };
}

let stack: TestStack;
const resetRuntimes = () => {
  greetRuntime.reset();
  statusRuntime.reset();
};

before(async () => {
  stack = await startTestStack();
  await stack.setConfig({ discoveryMinIntervalMs: '0', configMaxAgeSeconds: '0', coldStartWaitMs: '3000' });
  await stack.addGreeter({ id: 'plain-1', tags: ['plain'] });
  await stack.addGreeter({ id: 'plain-2', tags: ['plain'] });
  await stack.addGreeter({ id: 'slow-1', tags: ['slow'], latencyMs: 2_000 });
  await stack.addGreeter({ id: 'down-1', tags: ['down'], failRate: 1 });
  await stack.addGreeter({ id: 'broken-1', tags: ['broken'], failRate: 1, failCode: 'INTERNAL' });
  await stack.addGreeter({ id: 'flaky-bad', tags: ['flaky'], failRate: 1 });
  await stack.addGreeter({ id: 'flaky-good', tags: ['flaky'] });
  useFunctionEnvironment(stack);
});
after(async () => {
  resetRuntimes();
  await stack?.stop();
});
beforeEach(async () => {
  // Every test starts cold, on the shared defaults of this file.
  resetRuntimes();
  useFunctionEnvironment(stack);
  await stack.setConfig({ greeterTag: 'plain', callDeadlineMs: '2000', maxAttempts: '3' });
});

describe('greet function on real Consul', () => {
  it('greets through a discovered, passing backend, naming it by id only', async () => {
    const r = await greet('Ada');
    assert.equal(r.status, 200);
    assert.match(String(r.body.message), /Hello, Ada!/);
    const served = r.body.servedBy as { id: string; address?: string; port?: number };
    assert.ok(['plain-1', 'plain-2'].includes(served.id), `served by ${served.id}`);
    // /hello is public: the backend's address and port would map the private network.
    assert.deepEqual(Object.keys(served), ['id']);
    assert.doesNotMatch(JSON.stringify(r.body), /127\.0\.0\.1/);
    assert.equal(r.body.attempts, 1);
  });
  it('answers the backend address and port only with exposeBackendAddress', async () => {
    await stack.setConfig({ exposeBackendAddress: 'true' });
    try {
      resetRuntimes();
      const r = await greet('Ada');
      assert.equal(r.status, 200);
      const served = r.body.servedBy as { id: string; address: string; port: number };
      assert.equal(served.address, '127.0.0.1');
      assert.equal(served.port, stack.greeters.find((g) => g.id === served.id)?.port);
    } finally {
      await stack.setConfig({ exposeBackendAddress: 'false' });
    }
  });

  it('spreads warm calls over the instances (round robin on one reused channel)', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 10; i++) ids.add(((await greet(`n${i}`)).body.servedBy as { id: string }).id);
    assert.deepEqual([...ids].sort(), ['plain-1', 'plain-2']);
  });

  it('makes zero Consul requests on warm invocations while nothing changes', async () => {
    assert.equal((await greet('cold')).status, 200);
    const rt = greetRuntime.get();
    // The watch has settled once its second poll (the blocking one) is on the wire.
    await eventually(() => (rt.watches.all()[0]?.snapshot().polls ?? 0) >= 2, 5_000, 'the blocking poll');
    const before = Object.fromEntries(rt.consul.requestCounts);
    for (let i = 0; i < 20; i++) assert.equal((await greet(`warm${i}`)).status, 200);
    assert.deepEqual(Object.fromEntries(rt.consul.requestCounts), before);
    assert.equal(before['consul.kv.get'], 1, 'config read once, with one recursive read');
  });

  it('answers warm invocations on the synchronous beginWarm path, never the awaited cold one', async () => {
    assert.equal((await greet('cold')).status, 200);
    const rt = greetRuntime.get();
    const { beginWarm, beginDiscovering } = rt;
    const taken = { warm: 0, cold: 0 };
    rt.beginWarm = (...args) => {
      const loaded = beginWarm(...args);
      if (loaded) taken.warm++;
      return loaded;
    };
    rt.beginDiscovering = (...args) => {
      taken.cold++;
      return beginDiscovering(...args);
    };
    try {
      for (let i = 0; i < 5; i++) assert.equal((await greet(`warm${i}`)).status, 200);
    } finally {
      rt.beginWarm = beginWarm;
      rt.beginDiscovering = beginDiscovering;
    }
    assert.deepEqual(taken, { warm: 5, cold: 0 });
  });

  it('answers 503 with Retry-After when no instance passes', async () => {
    await stack.setConfig({ greeterTag: 'nobody-has-this-tag', retryAfterSeconds: '7' });
    const { result: r, output } = await captureOutput(() => greet('Ada'));
    assert.equal(r.status, 503);
    assert.equal(r.body.error?.code, 'NO_HEALTHY_INSTANCE');
    assert.equal(r.headers['retry-after'], '7');
    // One structured warning naming the backend service, and no Powertools complaint about a reserved key.
    assert.match(output, /"message":"greet request failed".*"backendService":"greeter"/);
    assert.doesNotMatch(output, /reserved key/);
    await stack.setConfig({ retryAfterSeconds: '1' });
  });

  it('retries UNAVAILABLE on another instance', async () => {
    await stack.setConfig({ greeterTag: 'flaky' });
    const attempts: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await greet(`f${i}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal((r.body.servedBy as { id: string }).id, 'flaky-good');
      attempts.push(Number(r.body.attempts));
    }
    assert.ok(
      attempts.some((a) => a === 2),
      `some call needed a retry: ${attempts}`,
    );
  });

  it('answers 503 when every attempt gets UNAVAILABLE', async () => {
    await stack.setConfig({ greeterTag: 'down', maxAttempts: '2' });
    const r = await greet('Ada');
    assert.equal(r.status, 503);
    assert.equal(r.body.error?.code, 'BACKEND_UNAVAILABLE');
    assert.ok(r.headers['retry-after']);
  });

  it('answers 502 for other backend errors', async () => {
    await stack.setConfig({ greeterTag: 'broken' });
    const r = await greet('Ada');
    assert.equal(r.status, 502);
    assert.equal(r.body.error?.code, 'BACKEND_ERROR');
    assert.doesNotMatch(JSON.stringify(r.body), /injected failure/, 'backend details stay out of the response');
  });

  it('answers 504 when the configured deadline passes', async () => {
    await stack.setConfig({ greeterTag: 'slow', callDeadlineMs: '300' });
    const t0 = Date.now();
    const r = await greet('Ada');
    assert.equal(r.status, 504);
    assert.equal(r.body.error?.code, 'DEADLINE_EXCEEDED');
    assert.ok(Date.now() - t0 < 1_800, 'did not wait for the slow backend');
  });

  it("cuts the deadline to the Lambda's remaining time", async () => {
    await stack.setConfig({ greeterTag: 'slow', callDeadlineMs: '10000', deadlineMarginMs: '100' });
    await greet('warm-up', 30_000).catch(() => undefined);
    const t0 = Date.now();
    const r = await greet('Ada', 600);
    assert.equal(r.status, 504);
    assert.ok(Date.now() - t0 < 1_500, `answered in ${Date.now() - t0} ms, inside the Lambda's time`);
    await stack.setConfig({ deadlineMarginMs: '250' });
  });

  it('never puts the token in a response', async () => {
    const r = await statusHandler(httpEvent('GET'), lambdaContext());
    assert.doesNotMatch(r.body ?? '', new RegExp(stack.gatewayToken));
    assert.match(r.body ?? '', /\[redacted\]/);
  });
});

describe('config from Consul K/V', () => {
  it('shows a K/V change after a cold start, with its source', async () => {
    await stack.setConfig({ callDeadlineMs: '1234' });
    assert.deepEqual((await status()).config.callDeadlineMs, { value: 1234, source: 'kv' });
    await stack.setConfig({ callDeadlineMs: '1500' });
    // Warm: configMaxAgeSeconds=0 means no refresh, so the old value stays.
    assert.equal((await status()).config.callDeadlineMs?.value, 1234);
    resetRuntimes();
    assert.equal((await status()).config.callDeadlineMs?.value, 1500);
  });

  it('refreshes in the background after configMaxAgeSeconds', async () => {
    await stack.setConfig({ configMaxAgeSeconds: '1', callDeadlineMs: '1111' });
    assert.equal((await status()).config.callDeadlineMs?.value, 1111);
    await stack.setConfig({ callDeadlineMs: '2222' });
    // Each invocation past the max age starts a refresh it does not wait for; the next one sees its result.
    await eventually(
      async () => {
        await status();
        await statusRuntime.get().config.settled();
        return (await status()).config.callDeadlineMs?.value === 2222;
      },
      5_000,
      'the refreshed value',
    );
    await stack.setConfig({ configMaxAgeSeconds: '0' });
  });

  it('falls back to the default for a bad value, reports it and keeps serving', async () => {
    await stack.setConfig({ maxAttempts: 'three', callDeadlineMs: '99999999' });
    const s = await status();
    assert.deepEqual(s.config.maxAttempts, { value: 3, source: 'default (invalid kv value)' });
    assert.deepEqual(s.config.callDeadlineMs, { value: 2000, source: 'default (invalid kv value)' });
    assert.deepEqual(s.configProblems.map((p) => p.key).sort(), ['callDeadlineMs', 'maxAttempts']);
    assert.equal((await greet('Ada')).status, 200);
  });

  it('starts on defaults within a bounded time when Consul is unreachable', async () => {
    resetRuntimes();
    useFunctionEnvironment(stack, `127.0.0.1:${await freePort()}`);
    const t0 = Date.now();
    const s = await status();
    const elapsed = Date.now() - t0;
    assert.equal(s.config.maxAttempts?.source, 'default (consul unreachable)');
    const r = await greet('Ada');
    assert.equal(r.status, 503);
    assert.equal(r.body.error?.code, 'NO_HEALTHY_INSTANCE');
    assert.ok(elapsed < 5_000, `bounded cold start (${elapsed} ms)`);
  });

  it('shows the discovered instances on /status', async () => {
    await eventually(async () => (await status()).discovery[0]?.instances.length === 2, 5_000, 'two plain instances');
    const ids = (await status()).discovery[0]?.instances.map((i) => i.id).sort();
    assert.deepEqual(ids, ['plain-1', 'plain-2']);
  });
});
