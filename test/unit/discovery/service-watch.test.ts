import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HealthSource } from '../../../lib/consul/health';
import type { ServiceInstance } from '../../../lib/consul/service-instances';
import { ServiceWatch } from '../../../lib/consul/service-watch';

const inst = (id: string, port: number): ServiceInstance => ({ id, service: 'greeter', address: '127.0.0.1', port, tags: [], meta: {}, node: 'n' });

/** A scripted HealthSource: each call takes the next step; a blocking call waits until released or aborted. */
function scripted() {
  const calls: (string | undefined)[] = [];
  const pending: { resolve: (v: { value: ServiceInstance[]; index: string }) => void; reject: (e: unknown) => void }[] = [];
  const source: HealthSource = {
    passingInstances(_q, index, _wait, signal) {
      calls.push(index);
      return new Promise((resolve, reject) => {
        pending.push({ resolve, reject });
        signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      });
    },
  };
  return { source, calls, pending };
}

const opts = () => ({ waitSeconds: 1, minIntervalMs: 0, backoffBaseMs: 5, backoffMaxMs: 20 });
let watch: ServiceWatch | undefined;
afterEach(() => watch?.stop());

describe('ServiceWatch', () => {
  it('serves the first answer and then blocks on its index', async () => {
    const s = scripted();
    watch = new ServiceWatch({ service: 'greeter' }, s.source, opts);
    const first = watch.waitForFirst(1_000);
    await sleep(5);
    s.pending.shift()?.resolve({ value: [inst('a', 1)], index: '7' });
    assert.deepEqual((await first)?.map((i) => i.id), ['a']);
    await sleep(5);
    assert.deepEqual(s.calls, [undefined, '7']);
  });

  it('notifies subscribers only when the list changes', async () => {
    const s = scripted();
    watch = new ServiceWatch({ service: 'greeter' }, s.source, opts);
    const seen: number[] = [];
    watch.subscribe((l) => seen.push(l.length));
    watch.start();
    await sleep(5);
    s.pending.shift()?.resolve({ value: [inst('a', 1)], index: '7' });
    await sleep(5);
    s.pending.shift()?.resolve({ value: [inst('a', 1)], index: '8' });
    await sleep(5);
    s.pending.shift()?.resolve({ value: [inst('a', 1), inst('b', 2)], index: '9' });
    await sleep(5);
    assert.deepEqual(seen, [1, 2]);
  });

  it('keeps the cached list through errors and backs off', async () => {
    const s = scripted();
    watch = new ServiceWatch({ service: 'greeter' }, s.source, opts);
    watch.start();
    await sleep(5);
    s.pending.shift()?.resolve({ value: [inst('a', 1)], index: '7' });
    await sleep(5);
    s.pending.shift()?.reject(new Error('connection refused'));
    await sleep(40);
    assert.deepEqual(watch.current()?.map((i) => i.id), ['a']);
    assert.equal(watch.snapshot().lastError, 'connection refused');
    assert.equal(s.calls.length, 3, 'retried once after the backoff');
  });

  it('resets the index when Consul returns a smaller one', async () => {
    const s = scripted();
    watch = new ServiceWatch({ service: 'greeter' }, s.source, opts);
    watch.start();
    await sleep(5);
    s.pending.shift()?.resolve({ value: [], index: '50' });
    await sleep(5);
    s.pending.shift()?.resolve({ value: [], index: '3' });
    await sleep(5);
    assert.deepEqual(s.calls, [undefined, '50', undefined]);
  });

  it('restarts a poll that outlived any Consul answer, and only then', async () => {
    const s = scripted();
    let now = 1_000_000;
    watch = new ServiceWatch({ service: 'greeter' }, s.source, opts, () => now);
    watch.start();
    await sleep(5);
    assert.equal(watch.ensureFresh(), false);
    now += 60_000; // as after a Lambda freeze
    assert.equal(watch.ensureFresh(), true);
    await sleep(5);
    assert.equal(s.calls.length, 2);
    assert.equal(watch.snapshot().restarts, 1);
  });

  it('gives up waiting for a first answer after the bound', async () => {
    const s = scripted();
    watch = new ServiceWatch({ service: 'greeter' }, s.source, opts);
    const t0 = Date.now();
    assert.equal(await watch.waitForFirst(50), undefined);
    assert.ok(Date.now() - t0 < 500);
  });
});
