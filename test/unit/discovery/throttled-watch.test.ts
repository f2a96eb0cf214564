// A 429 from the agent (its per-IP connection cap) and the herd a change sets off: the watch
// backs off with jitter and keeps serving its cache, and spreads its re-poll after a change.
// Fake timers drive every pause; Math.random is pinned so each pause is exact.
import assert from 'node:assert/strict';
import { afterEach, describe, it, type TestContext } from 'node:test';
import { REPOLL_SPREAD_MS, ServiceWatch, type ServiceWatchOptions } from '../../../lib/discovery/service-watch';
import { drainMicrotasks } from '../helpers/deferred';
import { consulError } from '../helpers/fake-consul';
import { fakeHealthSource, instance as inst } from '../helpers/fake-health-source';
import { recordingLog } from '../helpers/recording-log';

const QUERY = { service: 'greeter' };
const options =
  (o: Partial<ServiceWatchOptions> = {}) =>
  () => ({ waitSeconds: 30, minIntervalMs: 0, backoffBaseMs: 100, backoffMaxMs: 10_000, ...o });
let watch: ServiceWatch | undefined;
afterEach(() => watch?.stop());

function fakeTime(t: TestContext, random: number): void {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  t.mock.method(Math, 'random', () => random);
}

/** Steps the fake clock 10 ms at a time until poll number `count` starts; returns how long that took. */
async function pauseUntilPoll(t: TestContext, src: ReturnType<typeof fakeHealthSource>, count: number, limitMs: number): Promise<number> {
  let waited = 0;
  await drainMicrotasks();
  while (src.all.length < count) {
    t.mock.timers.tick(10);
    waited += 10;
    await drainMicrotasks();
    assert.ok(waited <= limitMs, `poll #${count} started within ${limitMs} ms`);
  }
  return waited;
}

describe('ServiceWatch under a 429', () => {
  it('backs off from at least one second with jitter, keeps the cached list and counts the throttled polls', async (t) => {
    fakeTime(t, 0);
    const log = recordingLog();
    const src = fakeHealthSource();
    watch = new ServiceWatch(QUERY, src.source, options(), log);
    watch.start();
    (await src.nextPoll()).resolve({ value: [inst('a', 1)], index: '7' });
    await drainMicrotasks();
    const pauses: number[] = [];
    for (let n = 2; n <= 4; n++) {
      (await src.nextPoll()).reject(consulError('consul.health.service', 429, 'Too Many Requests'));
      pauses.push(await pauseUntilPoll(t, src, n + 1, 20_000));
      assert.deepEqual(
        watch.current()?.map((i) => i.id),
        ['a'],
        'the cache is still served',
      );
    }
    // Math.random() = 0: half of each step; the steps start at THROTTLED_BASE_MS, not the 100 ms base.
    assert.deepEqual(pauses, [500, 1_000, 2_000]);
    assert.equal(watch.snapshot().throttled, 3);
    const warns = log.lines.filter((l) => l.level === 'warn');
    assert.equal(warns.length, 1, 'one warning for the streak, not one per retry');
    assert.match(warns[0]?.message ?? '', /429/);
  });

  it('backs off from its own base after an ordinary failure', async (t) => {
    fakeTime(t, 0);
    const src = fakeHealthSource();
    watch = new ServiceWatch(QUERY, src.source, options(), recordingLog());
    watch.start();
    (await src.nextPoll()).reject(consulError('consul.health.service', 500, 'No cluster leader'));
    assert.equal(await pauseUntilPoll(t, src, 2, 1_000), 50);
    assert.equal(watch.snapshot().throttled, 0);
  });
});

describe('ServiceWatch after a change', () => {
  it('serves the change at once and spreads its next poll over repollSpreadMs', async (t) => {
    fakeTime(t, 0.5);
    const src = fakeHealthSource();
    watch = new ServiceWatch(QUERY, src.source, options({ repollSpreadMs: 2_000 }), recordingLog());
    watch.start();
    (await src.nextPoll()).resolve({ value: [inst('a', 1)], index: '7' });
    // The first answer is no herd: the blocking poll follows at once.
    assert.equal((await src.nextPoll()).index, '7');
    src.all[1]!.resolve({ value: [inst('a', 1), inst('b', 2)], index: '9' });
    await drainMicrotasks();
    assert.deepEqual(
      watch.current()?.map((i) => i.id),
      ['a', 'b'],
      'the change is served before any pause',
    );
    assert.equal(await pauseUntilPoll(t, src, 3, 5_000), 1_000, 'half of the 2 s spread at random 0.5');
    assert.equal(src.all[2]?.index, '9');
  });

  it('re-polls at once after a change that lost instances: the next loss must not wait out the spread', async (t) => {
    fakeTime(t, 0.99);
    const src = fakeHealthSource();
    watch = new ServiceWatch(QUERY, src.source, options({ repollSpreadMs: 2_000 }), recordingLog());
    watch.start();
    (await src.nextPoll()).resolve({ value: [inst('a', 1), inst('b', 2)], index: '7' });
    (await src.nextPoll()).resolve({ value: [inst('a', 1)], index: '8' });
    const next = await src.nextPoll();
    assert.equal(next.index, '8', 'asked again at once, without a pause');
    next.resolve({ value: [], index: '9' });
    await drainMicrotasks();
    assert.deepEqual(watch.current(), []);
  });

  it('re-polls at once when the wait ran out without a change (Consul already spreads those)', async (t) => {
    fakeTime(t, 0.99);
    const src = fakeHealthSource();
    watch = new ServiceWatch(QUERY, src.source, options(), recordingLog());
    watch.start();
    (await src.nextPoll()).resolve({ value: [inst('a', 1)], index: '7' });
    (await src.nextPoll()).resolve({ value: [inst('a', 1)], index: '7' });
    assert.equal((await src.nextPoll()).index, '7');
  });

  it('spreads over REPOLL_SPREAD_MS by default', async (t) => {
    fakeTime(t, 0.999);
    const src = fakeHealthSource();
    watch = new ServiceWatch(QUERY, src.source, options(), recordingLog());
    watch.start();
    (await src.nextPoll()).resolve({ value: [inst('a', 1)], index: '7' });
    (await src.nextPoll()).resolve({ value: [inst('b', 1)], index: '8' });
    const waited = await pauseUntilPoll(t, src, 3, REPOLL_SPREAD_MS + 100);
    assert.ok(waited >= REPOLL_SPREAD_MS * 0.99 - 10 && waited <= REPOLL_SPREAD_MS, `${waited} ms`);
  });
});
