// The Cloud Map source: an emulated blocking query over polls of a directory, on a fake
// clock (injected now/sleep), and the watch's backoff on a Cloud Map throttling error.
import assert from 'node:assert/strict';
import { afterEach, describe, it, type TestContext } from 'node:test';
import { CloudMapDiscoveryError } from '../../../lib/cloudmap/discover-instances';
import {
  cloudMapHealthSource,
  CloudMapQueryNotServedError,
  coldStartFitsBurst,
  leastPollIntervalMs,
  MIN_SPACING_MS,
  type CloudMapSourceOptions,
  type DirectoryInstance,
  type InstanceDirectory,
} from '../../../lib/discovery/cloudmap-source';
import { isThrottledError, ServiceWatch } from '../../../lib/discovery/service-watch';
import { drainMicrotasks } from '../helpers/deferred';
import { fakeHealthSource, instance as inst } from '../helpers/fake-health-source';
import { recordingLog } from '../helpers/recording-log';

const Q = { service: 'greeter' };
const entry = (id: string, port: number, tags: string[] = []): DirectoryInstance => ({
  instanceId: id,
  address: '10.0.0.1',
  port,
  tags,
  meta: { v: '1' },
});

/** A clock the test moves, and sleeps that end when it passes their time (or on abort). */
function fakeClock() {
  let t = 1_000_000;
  const sleepers = new Set<{ until: number; resolve: () => void }>();
  return {
    now: () => t,
    sleep: (ms: number, signal: AbortSignal) =>
      new Promise<void>((resolve, reject) => {
        const s = { until: t + ms, resolve };
        sleepers.add(s);
        signal.addEventListener(
          'abort',
          () => {
            sleepers.delete(s);
            reject(new Error('aborted'));
          },
          { once: true },
        );
      }),
    /** Moves the clock by `ms` in steps of `step`, letting every continuation run after each. */
    async advance(ms: number, step = 10) {
      for (let done = 0; done < ms; done += step) {
        t += step;
        for (const s of [...sleepers]) {
          if (s.until > t) continue;
          sleepers.delete(s);
          s.resolve();
        }
        await drainMicrotasks();
      }
    },
  };
}

/** A directory whose list the test sets; records the clock time of every call. */
function fakeDirectory(clock: { now(): number }) {
  const state = {
    list: [entry('a', 1)] as DirectoryInstance[],
    fail: undefined as unknown,
    calls: [] as number[],
    args: [] as [string, string][],
  };
  const directory: InstanceDirectory = {
    async discover(namespace, service) {
      state.calls.push(clock.now());
      state.args.push([namespace, service]);
      if (state.fail) throw state.fail;
      return state.list.map((e) => ({ ...e }));
    },
  };
  return { directory, state };
}

function setup(o: Partial<CloudMapSourceOptions> = {}) {
  const clock = fakeClock();
  const dir = fakeDirectory(clock);
  const source = cloudMapHealthSource(dir.directory, {
    namespace: 'mirror',
    pollIntervalMs: 1_000,
    jitter: 0,
    now: clock.now,
    sleep: clock.sleep,
    random: () => 0,
    ...o,
  });
  return { clock, dir, source, signal: new AbortController().signal };
}

/** Settles `p` into a box so the test can look without awaiting. */
function track<T>(p: Promise<T>) {
  const box: { value?: T; error?: unknown; done: boolean } = { done: false };
  p.then(
    (v) => Object.assign(box, { value: v, done: true }),
    (e: unknown) => Object.assign(box, { error: e, done: true }),
  );
  return box;
}

describe('cloudMapHealthSource', () => {
  it('answers at once without an index, with a decimal index, from the namespace and service name', async () => {
    const { source, dir, signal } = setup();
    assert.equal(source.name, 'cloudmap');
    const res = await source.passingInstances(Q, undefined, 30, signal);
    assert.deepEqual(res, {
      index: '1',
      value: [{ id: 'a', service: 'greeter', address: '10.0.0.1', port: 1, tags: [], meta: { v: '1' }, node: '' }],
    });
    assert.deepEqual(dir.state.args, [['mirror', 'greeter']]);
  });

  it('with an index, polls every interval until waitSeconds passes, and keeps the index while nothing changed', async () => {
    const { source, dir, clock, signal } = setup();
    const first = await source.passingInstances(Q, undefined, 30, signal);
    const call = track(source.passingInstances(Q, first.index, 5, signal));
    await clock.advance(4_990);
    assert.equal(call.done, false, 'still blocking before waitSeconds');
    await clock.advance(20);
    assert.equal(call.done, true);
    assert.equal(call.value?.index, '1');
    const gaps = dir.state.calls.slice(1).map((c, i) => c - dir.state.calls[i]!);
    assert.deepEqual(gaps, [1_000, 1_000, 1_000, 1_000, 1_000], 'one call per interval, none closer');
  });

  it('answers at the first poll that sees a change, with a grown index', async () => {
    const { source, dir, clock, signal } = setup();
    const first = await source.passingInstances(Q, undefined, 30, signal);
    const call = track(source.passingInstances(Q, first.index, 30, signal));
    await clock.advance(1_500);
    dir.state.list = [entry('a', 1), entry('b', 2)];
    await clock.advance(490);
    assert.equal(call.done, false, 'not before the next poll');
    await clock.advance(20);
    assert.deepEqual(
      call.value?.value.map((i) => i.id),
      ['a', 'b'],
    );
    assert.equal(call.value?.index, '2');
    // Growing decimal counters: every change adds one.
    dir.state.list = [entry('b', 2)];
    const next = track(source.passingInstances(Q, '2', 30, signal));
    await clock.advance(1_010);
    assert.equal(next.value?.index, '3');
    assert.ok(BigInt(next.value!.index) > BigInt(call.value!.index));
  });

  it('jitters each wait around the interval, at most half a second either way', async () => {
    let r = 0;
    const { source, dir, clock, signal } = setup({ jitter: 0.5, random: () => [0, 1, 0.5][r++ % 3]! });
    const first = await source.passingInstances(Q, undefined, 30, signal);
    track(source.passingInstances(Q, first.index, 30, signal));
    await clock.advance(5_000);
    const gaps = dir.state.calls.slice(1).map((c, i) => c - dir.state.calls[i]!);
    // ± jitter × interval / 2 = ±250 ms around 1 s: the mean is the interval, so the quota's refill holds.
    assert.deepEqual(gaps.slice(0, 3), [750, 1_250, 1_000]);
  });

  it('never spreads a long interval by more than a second, so a change arrives within the interval + 1 s', async () => {
    let r = 0;
    const { source, dir, clock, signal } = setup({ pollIntervalMs: 10_000, jitter: 0.5, random: () => [1, 0][r++ % 2]! });
    const first = await source.passingInstances(Q, undefined, 30, signal);
    track(source.passingInstances(Q, first.index, 30, signal));
    await clock.advance(25_000);
    const gaps = dir.state.calls.slice(1).map((c, i) => c - dir.state.calls[i]!);
    assert.deepEqual(gaps.slice(0, 2), [10_500, 9_500]);
  });

  it('an answer without an index within the spacing comes from the cache, not from Cloud Map', async () => {
    const { source, dir, clock, signal } = setup({ pollIntervalMs: 4_000 });
    await source.passingInstances(Q, undefined, 30, signal);
    await source.passingInstances(Q, undefined, 30, signal);
    assert.equal(dir.state.calls.length, 1);
    await clock.advance(2_000);
    await source.passingInstances(Q, undefined, 30, signal);
    assert.equal(dir.state.calls.length, 2, 'after minSpacing (half of 4 s) it asks again');
  });

  it('invalidate cuts a wait short, but never below the least spacing', async () => {
    const { source, dir, clock, signal } = setup({ pollIntervalMs: 10_000 });
    const first = await source.passingInstances(Q, undefined, 60, signal);
    const call = track(source.passingInstances(Q, first.index, 60, signal));
    await clock.advance(1_000);
    source.invalidate?.(Q);
    await clock.advance(3_990);
    assert.equal(dir.state.calls.length, 1, 'no call before 5 s (half the interval) after the last one');
    dir.state.list = [];
    await clock.advance(20);
    assert.equal(dir.state.calls.length, 2);
    assert.deepEqual(call.value?.value, []);
    assert.equal(call.value?.index, '2');
    // The next poll after the early one waits a full interval again.
    const again = track(source.passingInstances(Q, '2', 60, signal));
    await clock.advance(9_970);
    assert.equal(dir.state.calls.length, 2);
    await clock.advance(40);
    assert.equal(dir.state.calls.length, 3);
    assert.equal(again.done, false);
  });

  it('honours the floor of MIN_SPACING_MS for short intervals', async () => {
    const { source, dir, clock, signal } = setup({ pollIntervalMs: 1_000 });
    const first = await source.passingInstances(Q, undefined, 60, signal);
    track(source.passingInstances(Q, first.index, 60, signal));
    source.invalidate?.(Q);
    await clock.advance(MIN_SPACING_MS - 10);
    assert.equal(dir.state.calls.length, 1);
    await clock.advance(20);
    assert.equal(dir.state.calls.length, 2);
  });

  it('filters by tag, as Consul does', async () => {
    const { source, dir, signal } = setup();
    dir.state.list = [entry('a', 1, ['blue']), entry('b', 2, ['green'])];
    const res = await source.passingInstances({ service: 'greeter', tag: 'green' }, undefined, 30, signal);
    assert.deepEqual(
      res.value.map((i) => i.id),
      ['b'],
    );
  });

  it('refuses Connect queries and other datacenters with a typed error, without a call', async () => {
    const { source, dir, signal } = setup({ datacenter: 'dc1' });
    await assert.rejects(
      source.passingInstances({ service: 'greeter', connect: true }, undefined, 30, signal),
      CloudMapQueryNotServedError,
    );
    await assert.rejects(
      source.passingInstances({ service: 'greeter', datacenter: 'dc2' }, undefined, 30, signal),
      (e: unknown) => e instanceof CloudMapQueryNotServedError && !e.noAnswer && /dc2/.test(e.message),
    );
    assert.equal((await source.passingInstances({ service: 'greeter', datacenter: 'dc1' }, undefined, 30, signal)).value.length, 1);
    assert.equal(dir.state.calls.length, 1);
  });

  it('passes a throttling error on, flag intact, and does not call again before the interval', async () => {
    const { source, dir, clock, signal } = setup();
    const first = await source.passingInstances(Q, undefined, 30, signal);
    dir.state.fail = new CloudMapDiscoveryError('throttled', 'Rate exceeded', 'RequestLimitExceeded');
    const call = track(source.passingInstances(Q, first.index, 30, signal));
    await clock.advance(1_010);
    assert.ok(call.error instanceof CloudMapDiscoveryError && call.error.throttled);
    assert.ok(isThrottledError(call.error));
    dir.state.fail = undefined;
    const retry = track(source.passingInstances(Q, first.index, 30, signal));
    await clock.advance(970);
    assert.equal(dir.state.calls.length, 2, 'the retry waits out the interval from the throttled call');
    await clock.advance(40);
    assert.equal(dir.state.calls.length, 3);
    assert.equal(retry.done, false, 'the list did not change: still blocking');
  });

  it('rejects at once when aborted while waiting', async () => {
    const { source, clock } = setup();
    const ac = new AbortController();
    const first = await source.passingInstances(Q, undefined, 30, ac.signal);
    const call = track(source.passingInstances(Q, first.index, 30, ac.signal));
    await clock.advance(100);
    ac.abort();
    await drainMicrotasks();
    assert.equal(call.done, true);
    assert.ok(call.error);
  });
});

describe('ServiceWatch over a throttled Cloud Map', () => {
  function fakeTime(t: TestContext): void {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
    t.mock.method(Math, 'random', () => 0);
  }
  let watch: ServiceWatch | undefined;
  afterEach(() => watch?.stop());

  it('treats an error carrying throttled: true like a 429: backs off from a second, keeps the stale list, counts it', async (t) => {
    fakeTime(t);
    const src = fakeHealthSource();
    watch = new ServiceWatch(
      Q,
      src.source,
      () => ({ waitSeconds: 30, minIntervalMs: 0, backoffBaseMs: 100, backoffMaxMs: 10_000 }),
      recordingLog(),
    );
    watch.start();
    (await src.nextPoll()).resolve({ value: [inst('a', 1)], index: '1' });
    await drainMicrotasks();
    (await src.nextPoll()).reject(new CloudMapDiscoveryError('throttled', 'Rate exceeded', 'RequestLimitExceeded'));
    let waited = 0;
    await drainMicrotasks();
    while (src.all.length < 3) {
      t.mock.timers.tick(10);
      waited += 10;
      await drainMicrotasks();
      assert.ok(waited <= 5_000);
    }
    assert.equal(waited, 500, 'half of the 1 s throttled first step at random 0, not half of the 100 ms base');
    assert.deepEqual(
      watch.current()?.map((i) => i.id),
      ['a'],
      'the stale list is still served',
    );
    assert.equal(watch.snapshot().throttled, 1);
    assert.match(watch.snapshot().lastError ?? '', /Rate exceeded/);
  });

  it('isThrottledError: a Consul 429 or a throttled flag, nothing else', () => {
    assert.equal(isThrottledError({ throttled: true }), true);
    assert.equal(isThrottledError({ throttled: 'yes' }), false);
    assert.equal(isThrottledError(new CloudMapDiscoveryError('unreachable', 'x')), false);
    assert.equal(isThrottledError(undefined), false);
  });
});

describe('the DiscoverInstances quota', () => {
  it('turns fleet size, services and share into the least poll interval (N·S / (share · 1000/s))', () => {
    assert.equal(leastPollIntervalMs(100, 1, 0.5), 1_000, 'floored at MIN_SPACING_MS');
    assert.equal(leastPollIntervalMs(1_000, 1, 0.5), 2_000);
    assert.equal(leastPollIntervalMs(5_000, 2, 0.5), 20_000);
    assert.equal(leastPollIntervalMs(10_000, 3, 0.25), 120_000);
    assert.equal(leastPollIntervalMs(3, 1, 1), MIN_SPACING_MS);
    assert.throws(() => leastPollIntervalMs(10, 1, 0), RangeError);
    assert.throws(() => leastPollIntervalMs(10, 1, 1.5), RangeError);
  });

  it('says whether a fleet starting at once fits the burst', () => {
    assert.equal(coldStartFitsBurst(1_000, 1, 0.5), true);
    assert.equal(coldStartFitsBurst(1_001, 1, 0.5), false);
    assert.equal(coldStartFitsBurst(2_000, 1, 1), true);
  });
});
