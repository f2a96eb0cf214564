// A backend that hangs instead of dying (SIGSTOP: it keeps its connections open and answers
// nothing), before Consul has noticed: the greet function must not fail a request. Hedging moves a
// slow call to another instance, and outlier detection ejects the hung one.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runtime } from '../../functions/greet';
import { registerTtlService } from '../../lib/consul/agent';
import { stopProcess } from '../../scripts/stack/processes';
import { percentile } from '../../scripts/support/percentiles';
import { eventually, invokeGreet, PASSING_WAIT_MS, passingIds, startTestStack, type TestStack, useFunctionEnvironment } from './harness';

let stack: TestStack;

type Answer = { status: number; ms: number; attempts: number; id: string };
async function greet(name: string): Promise<Answer> {
  const t0 = Date.now();
  const { status, body } = await invokeGreet(name);
  return { status, ms: Date.now() - t0, attempts: body.attempts ?? 0, id: body.servedBy?.id ?? '' };
}

before(async () => {
  stack = await startTestStack();
  await stack.setConfig({
    greeterTag: 'gray',
    discoveryMinIntervalMs: '0',
    callDeadlineMs: '2000',
    hedgeMaxDelayMs: '100',
    ejectionMinRequests: '5',
    leaseEnabled: 'false',
  });
  // Consul learns their health from a long TTL check: in production its gRPC check notices a hung
  // instance only after interval + timeout (often 10 s), so here it does not notice at all.
  for (const id of ['gray-1', 'gray-2', 'gray-3']) {
    const g = await stack.addGreeterUnregistered({ id });
    await registerTtlService(stack.admin, {
      id,
      name: 'greeter',
      address: '127.0.0.1',
      port: g.port,
      tags: ['gray'],
      ttl: '1h',
      deregisterCriticalServiceAfter: '1h',
      initialStatus: 'passing',
    });
  }
  await eventually(async () => (await passingIds(stack.admin, 'greeter')).length === 3, PASSING_WAIT_MS, 'three passing instances');
  useFunctionEnvironment(stack);
  runtime.reset();
});
after(async () => {
  for (const g of stack?.greeters ?? []) g.process.child.kill('SIGCONT');
  runtime.reset();
  await Promise.all((stack?.greeters ?? []).map((g) => stopProcess(g.process, 'SIGKILL')));
  await stack?.stop();
});

describe('a backend that hangs (gray failure)', { timeout: 60_000 }, () => {
  it('costs no failed request, and the hung instance is ejected', async () => {
    // Warm up: the channel, and enough samples for the hedging delay to follow the p95.
    for (let i = 0; i < 40; i++) assert.equal((await greet(`w${i}`)).status, 200);
    const victim = stack.greeters.find((g) => g.id === 'gray-2');
    assert.ok(victim);
    victim.process.child.kill('SIGSTOP');
    try {
      const during: Answer[] = [];
      // Until 20 calls in a row need no second attempt, the hung instance is still being picked.
      await eventually(
        async () => {
          for (let i = 0; i < 20; i++) during.push(await greet(`g${during.length}`));
          return during.slice(-20).every((a) => a.attempts === 1 && a.id !== 'gray-2');
        },
        20_000,
        'the hung instance to be ejected',
      );
      const failed = during.filter((a) => a.status !== 200);
      assert.deepEqual(failed, [], 'no request failed while an instance hung');
      assert.ok(
        during.some((a) => a.attempts > 1),
        'some call was hedged away from the hung instance',
      );
      const p99 = percentile(
        during.map((a) => a.ms),
        99,
      );
      assert.ok(p99 !== undefined && p99 < 1_000, `p99 ${p99} ms stays far below the 2 s deadline`);
      assert.deepEqual(
        await passingIds(stack.admin, 'greeter').then((ids) => ids.length),
        3,
        'Consul still lists it: the client routed around it alone',
      );
    } finally {
      victim.process.child.kill('SIGCONT');
    }
  });
});
