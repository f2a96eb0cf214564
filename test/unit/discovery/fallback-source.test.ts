// The fallback over scripted fake sources: each poll is answered by a function the test sets, and a
// clock the test moves decides when the primary is probed again. No real time passes except where a
// silent primary must run into the (short) first-answer limit.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConsulRequestError, ConsulTimeoutError } from '../../../lib/consul/errors';
import type { ServiceInstance } from '../../../lib/consul/service-instances';
import { fallbackHealthSource, isNoAnswer } from '../../../lib/discovery/fallback-source';
import type { DiscoverySourceName, HealthSource } from '../../../lib/discovery/health-source';
import type { ServiceQuery } from '../../../lib/discovery/service-query';
import { instance as inst } from '../helpers/fake-health-source';
import { recordingLog } from '../helpers/recording-log';

type Answer = (
  query: ServiceQuery,
  index: string | undefined,
  waitSeconds: number,
  signal: AbortSignal,
) => Promise<{ value: ServiceInstance[]; index: string }>;

interface Scripted {
  source: HealthSource;
  calls: { index: string | undefined; waitSeconds: number }[];
  invalidated: ServiceQuery[];
  answer: Answer;
}

function scripted(name: DiscoverySourceName, answer: Answer): Scripted {
  const s: Scripted = {
    calls: [],
    invalidated: [],
    answer,
    source: {
      name,
      passingInstances(query, index, waitSeconds, signal) {
        s.calls.push({ index, waitSeconds });
        return s.answer(query, index, waitSeconds, signal);
      },
      invalidate: (q) => void s.invalidated.push(q),
    },
  };
  return s;
}

const Q = { service: 'greeter' };
const signal = () => new AbortController().signal;
const refused = () => new ConsulRequestError('consul.health.service', 'connect ECONNREFUSED 127.0.0.1:8500');
const ok =
  (ids: string[], index: string): Answer =>
  () =>
    Promise.resolve({ value: ids.map((id, n) => inst(id, 5000 + n)), index });
const fail =
  (err: unknown): Answer =>
  () =>
    Promise.reject(err);
const hang: Answer = (_q, _i, _w, s) =>
  new Promise((_, reject) =>
    s.addEventListener('abort', () => reject(new ConsulTimeoutError('consul.health.service', 'aborted')), { once: true }),
  );

function setup(primaryAnswer: Answer, fallbackAnswer: Answer, opts: { firstAnswerTimeoutMs?: number } = {}) {
  let t = 1_000_000;
  const primary = scripted('consul', primaryAnswer);
  const fallback = scripted('cloudmap', fallbackAnswer);
  const log = recordingLog();
  const src = fallbackHealthSource(primary.source, [fallback.source], {
    log,
    now: () => t,
    probeIntervalMs: 3_000,
    probeTimeoutMs: 50,
    ...opts,
  });
  return { primary, fallback, log, src, advance: (ms: number) => (t += ms) };
}

describe('fallbackHealthSource', () => {
  it('passes the primary through while it answers, with its own index', async () => {
    const { primary, fallback, src } = setup(ok(['a'], '120'), ok(['b'], '1'));
    const first = await src.passingInstances(Q, undefined, 30, signal());
    assert.equal(first.index, '120');
    const second = await src.passingInstances(Q, '120', 30, signal());
    assert.equal(second.index, '120', 'an unchanged index stays the same');
    assert.deepEqual(
      primary.calls.map((c) => c.index),
      [undefined, '120'],
      'the primary blocks on its own index',
    );
    assert.equal(fallback.calls.length, 0);
    assert.equal(src.servedBy(Q), 'consul');
    assert.equal(src.name, 'consul');
  });

  it('serves a cold start from the fallback when the primary refuses, and says so once', async () => {
    const { primary, fallback, src, log } = setup(fail(refused()), ok(['b'], '4'));
    const res = await src.passingInstances(Q, undefined, 30, signal());
    assert.deepEqual(
      res.value.map((i) => i.id),
      ['b'],
    );
    assert.equal(src.servedBy(Q), 'cloudmap');
    assert.equal(fallback.calls[0]?.index, undefined, 'the fallback answers at once');
    await src.passingInstances(Q, res.index, 30, signal());
    assert.equal(primary.calls.length, 1, 'the primary is not asked again within the probe interval');
    assert.equal(log.messages('warn').filter((m) => m.includes('serving from a fallback')).length, 1);
    assert.equal(src.fallbackAnswers, 2);
    assert.equal(src.snapshot().active, 'cloudmap');
    assert.ok(src.snapshot().primaryDownSince);
  });

  it('does not switch on an answer that is an error (403, 404, 500)', async () => {
    for (const status of [403, 404, 500]) {
      const { fallback, src } = setup(fail(new ConsulRequestError('consul.health.service', 'denied', status)), ok(['b'], '1'));
      await assert.rejects(src.passingInstances(Q, undefined, 30, signal()), ConsulRequestError);
      assert.equal(fallback.calls.length, 0, `no fallback on ${status}`);
    }
  });

  it('gives a silent primary the first-answer limit at cold start, then asks the fallback', async () => {
    const { fallback, src } = setup(hang, ok(['b'], '1'), { firstAnswerTimeoutMs: 30 });
    const res = await src.passingInstances(Q, undefined, 30, signal());
    assert.deepEqual(
      res.value.map((i) => i.id),
      ['b'],
    );
    assert.equal(fallback.calls.length, 1);
  });

  it('leaves a blocking poll its whole wait (no limit while warm)', async () => {
    const { primary, src } = setup(ok(['a'], '50'), ok(['b'], '1'), { firstAnswerTimeoutMs: 1 });
    await src.passingInstances(Q, undefined, 30, signal());
    let release!: () => void;
    primary.answer = () => new Promise((resolve) => (release = () => resolve({ value: [inst('a', 5000)], index: '51' })));
    const polling = src.passingInstances(Q, '50', 30, signal());
    await new Promise((r) => setTimeout(r, 20));
    release();
    assert.equal((await polling).index, '51');
  });

  it('switches while warm, keeps indexes growing, probes on its interval and returns to the primary', async () => {
    const { primary, fallback, src, advance, log } = setup(ok(['a'], '900'), ok(['b'], '3'));
    let index = (await src.passingInstances(Q, undefined, 30, signal())).index;
    assert.equal(index, '900');
    // Every Consul address dies during the blocking poll: the fallback answers at once.
    primary.answer = fail(refused());
    const onFallback = await src.passingInstances(Q, index, 30, signal());
    assert.ok(BigInt(onFallback.index) > BigInt(index), `index grows across the switch (${index} → ${onFallback.index})`);
    assert.equal(fallback.calls.at(-1)?.index, undefined, 'the fallback is not handed the primary index');
    index = onFallback.index;
    // On the fallback: its own index, a wait cut to the probe interval, no probe before the interval.
    await src.passingInstances(Q, index, 30, signal());
    assert.deepEqual(fallback.calls.at(-1), { index: '3', waitSeconds: 3 });
    assert.equal(primary.calls.length, 2);
    advance(3_000);
    await src.passingInstances(Q, index, 30, signal());
    assert.equal(primary.calls.length, 3, 'probed once the interval passed');
    assert.equal(primary.calls.at(-1)?.index, undefined, 'a probe is non-blocking');
    // The fallback's list changes: index grows.
    fallback.answer = ok(['b', 'c'], '4');
    const changed = await src.passingInstances(Q, index, 30, signal());
    assert.ok(BigInt(changed.index) > BigInt(index));
    index = changed.index;
    // Consul is back, with a lower index than ours would be if it had reset: still growing.
    primary.answer = ok(['a'], '5');
    advance(3_000);
    const back = await src.passingInstances(Q, index, 30, signal());
    assert.ok(BigInt(back.index) > BigInt(index), `index grows back on the primary (${index} → ${back.index})`);
    assert.equal(src.servedBy(Q), 'consul');
    assert.ok(log.messages('info').some((m) => m.includes('back on the primary')));
    // The watch's next blocking poll reaches the primary with the primary's own index.
    await src.passingInstances(Q, back.index, 30, signal());
    assert.equal(primary.calls.at(-1)?.index, '5');
    assert.equal(src.snapshot().primaryDownSince, undefined);
    assert.equal(src.snapshot().switches, 2);
  });

  it('stays on the fallback while the primary answers again with no instance (checks not passing yet)', async () => {
    const { primary, src, advance } = setup(fail(refused()), ok(['b'], '1'));
    const first = await src.passingInstances(Q, undefined, 30, signal());
    primary.answer = ok([], '700');
    advance(3_000);
    const still = await src.passingInstances(Q, first.index, 30, signal());
    assert.deepEqual(
      still.value.map((i) => i.id),
      ['b'],
    );
    assert.equal(src.servedBy(Q), 'cloudmap');
    assert.equal(primary.calls.length, 2, 'probed');
    primary.answer = ok(['a'], '701');
    await src.passingInstances(Q, still.index, 30, signal());
    assert.equal(primary.calls.length, 2, 'not again within the interval');
    advance(3_000);
    const back = await src.passingInstances(Q, still.index, 30, signal());
    assert.deepEqual(
      back.value.map((i) => i.id),
      ['a'],
    );
    assert.equal(src.servedBy(Q), 'consul');
  });

  it('a probe that gets an error answer hands the watch back to the primary', async () => {
    const { primary, src, advance } = setup(fail(refused()), ok(['b'], '1'));
    await src.passingInstances(Q, undefined, 30, signal());
    primary.answer = fail(new ConsulRequestError('consul.health.service', 'denied', 403));
    advance(3_000);
    await assert.rejects(src.passingInstances(Q, '1', 30, signal()), /denied/);
    assert.equal(src.snapshot().primaryDownSince, undefined);
  });

  it('throws the primary error when no fallback answers either, and honours an abort', async () => {
    const { src } = setup(fail(refused()), fail(Object.assign(new Error('moto down'), { noAnswer: true })));
    await assert.rejects(src.passingInstances(Q, undefined, 30, signal()), /ECONNREFUSED/);
    const { src: src2, fallback } = setup(hang, ok(['b'], '1'), { firstAnswerTimeoutMs: 10_000 });
    const controller = new AbortController();
    const polling = src2.passingInstances(Q, undefined, 30, controller.signal);
    controller.abort();
    await assert.rejects(polling);
    assert.equal(fallback.calls.length, 0, 'an abort is not a missing answer');
  });

  it('tells the source that served the query that an address died', async () => {
    const { primary, fallback, src } = setup(fail(refused()), ok(['b'], '1'));
    await src.passingInstances(Q, undefined, 30, signal());
    src.invalidate?.(Q);
    assert.equal(fallback.invalidated.length, 1);
    assert.equal(primary.invalidated.length, 0);
  });

  it('knows "no answer" from an answer', () => {
    assert.equal(isNoAnswer(refused()), true);
    assert.equal(isNoAnswer(new ConsulTimeoutError('x', 'timed out after 2000 ms')), true);
    assert.equal(isNoAnswer(new ConsulTimeoutError('x', 'aborted')), false);
    assert.equal(isNoAnswer(new ConsulRequestError('x', 'denied', 403)), false);
    assert.equal(isNoAnswer(Object.assign(new Error('dns timeout'), { noAnswer: true })), true);
    assert.equal(isNoAnswer(new Error('validation')), false);
  });
});
