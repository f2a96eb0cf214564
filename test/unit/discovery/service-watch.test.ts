// Fake timers drive every pause of the loop (node:timers/promises setTimeout is
// mocked by mock.timers under tsx), and the fake source signals each poll as it
// starts, so no test waits for real time.
import assert from 'node:assert/strict';
import { afterEach, describe, it, type TestContext } from 'node:test';
import { ConsulRequestError } from '../../../lib/consul/errors';
import { ServiceWatch, type ServiceWatchOptions } from '../../../lib/discovery/service-watch';
import { silentLog } from '../../../lib/log/logger';
import { drainMicrotasks } from '../helpers/deferred';
import { recordingLog } from '../helpers/recording-log';
import { fakeHealthSource, instance as inst } from '../helpers/fake-health-source';

const QUERY = { service: 'greeter' };
const options =
  (o: Partial<ServiceWatchOptions> = {}) =>
  () => ({ waitSeconds: 30, minIntervalMs: 0, backoffBaseMs: 100, backoffMaxMs: 1_000, repollSpreadMs: 0, ...o });
let watch: ServiceWatch | undefined;
afterEach(() => watch?.stop());

function fakeTime(t: TestContext): void {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
}

describe('ServiceWatch', () => {
  it('serves the first answer and then blocks on its index', async (t) => {
    fakeTime(t);
    const src = fakeHealthSource();
    watch = new ServiceWatch(QUERY, src.source, options(), silentLog);
    let settled = false;
    const first = watch.waitForFirst(1_000).finally(() => (settled = true));
    const poll1 = await src.nextPoll();
    assert.equal(poll1.index, undefined, 'the first poll does not block');
    assert.deepEqual(poll1.query, QUERY);
    poll1.resolve({ value: [inst('a', 1)], index: '7' });
    await drainMicrotasks();
    assert.equal(settled, true, 'the first answer ends the wait');
    assert.deepEqual(
      (await first)?.map((i) => i.id),
      ['a'],
    );
    const poll2 = await src.nextPoll();
    assert.equal(poll2.index, '7');
    assert.equal(poll2.waitSeconds, 30);
    assert.equal(watch.snapshot().index, '7');
    assert.equal(watch.snapshot().polls, 2);
  });

  it('returns the cached list from waitForFirst without another poll', async () => {
    const src = fakeHealthSource();
    watch = new ServiceWatch(QUERY, src.source, options(), silentLog);
    watch.start();
    (await src.nextPoll()).resolve({ value: [inst('a', 1)], index: '7' });
    await src.nextPoll();
    assert.deepEqual(
      (await watch.waitForFirst(1_000))?.map((i) => i.id),
      ['a'],
    );
    assert.equal(src.all.length, 2);
  });

  it('notifies subscribers only when the list changes', async () => {
    const src = fakeHealthSource();
    watch = new ServiceWatch(QUERY, src.source, options(), silentLog);
    const seen: string[][] = [];
    const unsubscribe = watch.subscribe((l) => seen.push(l.map((i) => i.id)));
    watch.start();
    (await src.nextPoll()).resolve({ value: [inst('a', 1)], index: '7' });
    (await src.nextPoll()).resolve({ value: [inst('a', 1)], index: '8' });
    (await src.nextPoll()).resolve({ value: [inst('a', 1), inst('b', 2)], index: '9' });
    await src.nextPoll();
    assert.deepEqual(seen, [['a'], ['a', 'b']]);
    unsubscribe();
    (src.all.at(-1) ?? assert.fail('no poll')).resolve({ value: [], index: '10' });
    await src.nextPoll();
    assert.equal(seen.length, 2, 'an unsubscribed listener hears nothing more');
    assert.deepEqual(watch.current(), []);
  });

  it('keeps the cached list through errors and backs off before retrying', async (t) => {
    fakeTime(t);
    t.mock.method(Math, 'random', () => 0); // backoff = half its step: 50 ms after the first failure
    const log = recordingLog();
    const src = fakeHealthSource();
    watch = new ServiceWatch(QUERY, src.source, options(), log);
    watch.start();
    (await src.nextPoll()).resolve({ value: [inst('a', 1)], index: '7' });
    (await src.nextPoll()).reject(new Error('connection refused'));
    await drainMicrotasks();
    assert.deepEqual(log.messages('warn'), ['Consul service poll failed; serving the cached list']);
    assert.deepEqual(
      watch.current()?.map((i) => i.id),
      ['a'],
    );
    assert.equal(watch.snapshot().lastError, 'connection refused');
    t.mock.timers.tick(49);
    await drainMicrotasks();
    assert.equal(src.all.length, 2, 'no retry before the backoff');
    t.mock.timers.tick(1);
    const retry = await src.nextPoll();
    assert.equal(retry.index, '7', 'the index survives an error');
    retry.resolve({ value: [inst('a', 1)], index: '7' });
    await src.nextPoll();
    assert.equal(watch.snapshot().lastError, undefined, 'a success clears the error');
  });

  it('doubles the backoff per consecutive failure and logs the first failure of a streak and every tenth', async (t) => {
    fakeTime(t);
    t.mock.method(Math, 'random', () => 0);
    const log = recordingLog();
    const src = fakeHealthSource();
    watch = new ServiceWatch(QUERY, src.source, options({ backoffBaseMs: 100, backoffMaxMs: 1_000 }), log);
    watch.start();
    const pauses: number[] = [];
    for (let failure = 1; failure <= 10; failure++) {
      (await src.nextPoll()).reject(new Error(`down ${failure}`));
      await drainMicrotasks();
      // Step forward 10 ms at a time until the retry starts: the pause it took.
      let waited = 0;
      while (src.all.length === failure) {
        t.mock.timers.tick(10);
        waited += 10;
        await drainMicrotasks();
        assert.ok(waited <= 1_000, 'retried within the maximum backoff');
      }
      pauses.push(waited);
    }
    assert.deepEqual(pauses, [50, 100, 200, 400, 500, 500, 500, 500, 500, 500]);
    const warns = log.lines.filter((l) => l.level === 'warn');
    assert.deepEqual(
      warns.map((l) => l.attributes.failures),
      [1, 10],
    );
  });

  it('waits out the minimum interval after an answer that came back at once', async (t) => {
    fakeTime(t);
    const src = fakeHealthSource();
    watch = new ServiceWatch(QUERY, src.source, options({ minIntervalMs: 500 }), silentLog);
    watch.start();
    (await src.nextPoll()).resolve({ value: [inst('a', 1)], index: '7' });
    await drainMicrotasks();
    assert.deepEqual(
      watch.current()?.map((i) => i.id),
      ['a'],
    );
    t.mock.timers.tick(499);
    await drainMicrotasks();
    assert.equal(src.all.length, 1, 'rate-limited');
    t.mock.timers.tick(1);
    assert.equal((await src.nextPoll()).index, '7');
  });

  it('reads its options before every poll, so a config change applies without a restart', async () => {
    const src = fakeHealthSource();
    let waitSeconds = 30;
    watch = new ServiceWatch(
      QUERY,
      src.source,
      () => ({ waitSeconds, minIntervalMs: 0, backoffBaseMs: 100, backoffMaxMs: 1_000, repollSpreadMs: 0 }),
      silentLog,
    );
    watch.start();
    const poll1 = await src.nextPoll();
    waitSeconds = 5;
    poll1.resolve({ value: [], index: '7' });
    assert.equal((await src.nextPoll()).waitSeconds, 5);
  });

  it('resets the index when Consul returns a smaller one', async () => {
    const src = fakeHealthSource();
    watch = new ServiceWatch(QUERY, src.source, options(), silentLog);
    watch.start();
    (await src.nextPoll()).resolve({ value: [], index: '50' });
    (await src.nextPoll()).resolve({ value: [], index: '3' });
    await src.nextPoll();
    assert.deepEqual(
      src.all.map((p) => p.index),
      [undefined, '50', undefined],
    );
  });

  it('restarts a poll that outlived any Consul answer, and only then', async () => {
    const src = fakeHealthSource();
    let now = 1_000_000;
    watch = new ServiceWatch(QUERY, src.source, options({ waitSeconds: 30 }), silentLog, () => now);
    watch.start();
    const stale = await src.nextPoll();
    assert.equal(watch.ensureFresh(), false);
    now += 30_000;
    assert.equal(watch.ensureFresh(), false, 'still within wait + wait/16 + slack');
    now += 30_000; // as after a Lambda freeze
    assert.equal(watch.ensureFresh(), true);
    assert.equal(stale.signal.aborted, true, 'the stale poll is cancelled');
    const fresh = await src.nextPoll();
    assert.equal(watch.snapshot().restarts, 1);
    fresh.resolve({ value: [inst('a', 1)], index: '7' });
    await src.nextPoll();
    await drainMicrotasks();
    assert.equal(src.all.length, 3, 'only the new loop goes on polling');
  });

  it('starts a stopped watch when asked to be fresh', async () => {
    const src = fakeHealthSource();
    watch = new ServiceWatch(QUERY, src.source, options(), silentLog);
    assert.equal(watch.ensureFresh(), true);
    await src.nextPoll();
    assert.equal(src.all.length, 1);
  });

  it('stops polling and cancels the poll in flight when stopped', async () => {
    const src = fakeHealthSource();
    watch = new ServiceWatch(QUERY, src.source, options(), silentLog);
    watch.start();
    watch.start(); // already running: no second loop
    const poll = await src.nextPoll();
    watch.stop();
    assert.equal(poll.signal.aborted, true);
    await drainMicrotasks();
    assert.equal(src.all.length, 1);
    assert.equal(watch.snapshot().lastError, undefined, 'a cancelled poll is not an error');
  });

  it('stops waiting for a first answer as soon as the first poll fails', async (t) => {
    fakeTime(t);
    const src = fakeHealthSource();
    watch = new ServiceWatch(QUERY, src.source, options(), silentLog);
    let settled = false;
    const first = watch.waitForFirst(10_000).finally(() => (settled = true));
    (await src.nextPoll()).reject(new Error('connect ECONNREFUSED'));
    await drainMicrotasks();
    assert.equal(settled, true, 'no need to wait out the bound');
    assert.equal(await first, undefined);
    assert.equal(watch.snapshot().lastError, 'connect ECONNREFUSED');
  });

  it('after a failed first poll, a later wait waits for the retry rather than giving up at once', async (t) => {
    fakeTime(t);
    const src = fakeHealthSource();
    watch = new ServiceWatch(QUERY, src.source, options(), silentLog);
    assert.equal(
      await Promise.all([watch.waitForFirst(10_000), src.nextPoll().then((p) => p.reject(new Error('connect ECONNREFUSED')))]).then(
        ([r]) => r,
      ),
      undefined,
    );
    let settled = false;
    const later = watch.waitForFirst(10_000).finally(() => (settled = true));
    await drainMicrotasks();
    assert.equal(settled, false, 'the next poll has not ended yet');
    t.mock.timers.tick(1_000);
    (await src.nextPoll()).resolve({ value: [inst('a', 1)], index: '5' });
    assert.deepEqual(
      (await later)?.map((i) => i.id),
      ['a'],
    );
  });

  it('keeps waiting across a 5xx answer (servers electing a leader) until the retry answers, within the bound', async (t) => {
    fakeTime(t);
    const src = fakeHealthSource();
    watch = new ServiceWatch(QUERY, src.source, options(), silentLog);
    let settled = false;
    const first = watch.waitForFirst(10_000).finally(() => (settled = true));
    (await src.nextPoll()).reject(new ConsulRequestError('consul.health.service', 'rpc error: No cluster leader', 500));
    await drainMicrotasks();
    assert.equal(settled, false, 'a 5xx does not end the wait');
    t.mock.timers.tick(1_000);
    (await src.nextPoll()).resolve({ value: [inst('a', 1)], index: '7' });
    assert.deepEqual(
      (await first)?.map((i) => i.id),
      ['a'],
    );
  });

  it('a refusal (403) ends the wait at once', async (t) => {
    fakeTime(t);
    const src = fakeHealthSource();
    watch = new ServiceWatch(QUERY, src.source, options(), silentLog);
    let settled = false;
    const first = watch.waitForFirst(10_000).finally(() => (settled = true));
    (await src.nextPoll()).reject(new ConsulRequestError('consul.health.service', 'Permission denied', 403));
    await drainMicrotasks();
    assert.equal(settled, true);
    assert.equal(await first, undefined);
  });

  it('gives up waiting for a first answer after the bound', async (t) => {
    fakeTime(t);
    const src = fakeHealthSource();
    watch = new ServiceWatch(QUERY, src.source, options(), silentLog);
    let settled = false;
    const first = watch.waitForFirst(50).finally(() => (settled = true));
    t.mock.timers.tick(49);
    await drainMicrotasks();
    assert.equal(settled, false);
    t.mock.timers.tick(1);
    await drainMicrotasks();
    assert.equal(settled, true);
    assert.equal(await first, undefined);
    assert.equal(src.all.length, 1, 'the poll goes on in the background');
  });
});
