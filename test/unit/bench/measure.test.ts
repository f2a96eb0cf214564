import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { interleaved, median, ratio, round, stats, throughput, throughputRounds } from '../../../bench/measure';

describe('stats', () => {
  it('gives nearest-rank percentiles (scripts/support/percentiles.ts), the mean and the max, whatever the order of the samples', () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i);
    assert.deepEqual(stats(samples), { n: 100, p50: 50, p90: 90, p99: 99, mean: 50.5, max: 100 });
    assert.equal(samples[0], 100, 'the samples are not sorted in place');
  });

  it('fails, naming the measurement, when there are no samples (never NaN)', () => {
    assert.throws(() => stats([], 'cold starts'), /no cold starts were measured/);
  });
});

describe('median and ratio', () => {
  it('give undefined, not NaN, when there is nothing to divide or no sample', () => {
    assert.equal(median([]), undefined);
    assert.equal(median([3, 1, 2, 4]), 2);
    assert.equal(ratio(3, 2), 1.5);
    assert.equal(ratio(undefined, 2), undefined);
    assert.equal(ratio(1, 0), undefined);
    assert.equal(ratio(Number.NaN, 1), undefined);
  });
});

describe('throughput', () => {
  it('makes exactly `total` calls with never more than `inFlight` outstanding', async () => {
    let outstanding = 0;
    let most = 0;
    let calls = 0;
    const rate = await throughput(
      async () => {
        calls++;
        most = Math.max(most, ++outstanding);
        await new Promise((r) => setImmediate(r));
        outstanding--;
      },
      100,
      16,
    );
    assert.equal(calls, 100);
    assert.equal(most, 16);
    assert.ok(rate > 0 && Number.isFinite(rate));
  });
});

describe('throughputRounds', () => {
  it('gives every path one rate per round, its calls all made, in an order that varies so each path follows each other', async () => {
    const started: string[] = [];
    const calls: Record<string, number> = { a: 0, b: 0, c: 0 };
    const path = (name: string) => async () => {
      started.push(name);
      calls[name]!++;
      await new Promise((r) => setImmediate(r));
    };
    const rounds = 30;
    const rates = await throughputRounds({ a: path('a'), b: path('b'), c: path('c') }, { total: 8, inFlight: 4, rounds });
    for (const k of ['a', 'b', 'c'] as const) {
      assert.equal(rates[k].length, rounds);
      assert.ok(rates[k].every((r) => r > 0 && Number.isFinite(r)));
      assert.equal(calls[k], 8 * rounds);
    }
    // A path's 8 calls of a round run as one block, and a round is the three blocks in some order.
    const log = Array.from({ length: started.length / 8 }, (_, i) => started[i * 8]!);
    for (let i = 0; i < log.length; i++) assert.ok(started.slice(i * 8, i * 8 + 8).every((x) => x === log[i]));
    for (let i = 0; i < log.length; i += 3) assert.equal(new Set(log.slice(i, i + 3)).size, 3, 'each path once per round');
    const orders = new Set<string>();
    for (let i = 0; i < log.length; i += 3) orders.add(log.slice(i, i + 3).join(''));
    assert.ok(orders.size >= 4, `orders seen: ${[...orders].join(', ')}`);
    const pairs = new Set(log.slice(1).map((x, i) => `${log[i]}${x}`));
    for (const p of ['ab', 'ba', 'ac', 'ca', 'bc', 'cb']) assert.ok(pairs.has(p), `${p[1]} never followed ${p[0]}`);
  });
});

describe('round', () => {
  it('rounds to the digits asked for', () => {
    assert.equal(round(1.23456), 1.235);
    assert.equal(round(1.23456, 1), 1.2);
  });
});

describe('interleaved', () => {
  it('warms each path up, then takes one block of each per turn, until the default block has n samples', async () => {
    const calls: string[] = [];
    const path = (name: string, block?: number) => ({
      run: async (i: number) => void calls.push(`${name}${i}`),
      ...(block === undefined ? {} : { block }),
    });
    const out = await interleaved({ a: path('a'), b: path('b', 1) }, 4, 2, 1);
    assert.deepEqual(calls.slice(0, 2), ['a0', 'b0'], 'the warm-up, in order');
    const turns = [calls.slice(2, 5), calls.slice(5, 8)];
    for (const turn of turns) assert.deepEqual([...turn].sort(), ['a0', 'a1', 'b0'], 'one block of each path per turn');
    assert.equal(out.a.samples.length, 4);
    assert.equal(out.b.samples.length, 2, 'a path with a smaller block gives fewer samples');
    assert.deepEqual([out.a.cpuUs.length, out.b.cpuUs.length], [2, 2], 'one CPU figure per turn');
  });

  it('lets every path follow every other one, as often give or take, and the same order each run', async () => {
    const runOnce = async () => {
      const order: string[] = [];
      const path = (name: string) => ({ run: async () => void order.push(name) });
      await interleaved({ a: path('a'), b: path('b'), c: path('c'), d: path('d') }, 600, 1, 0);
      return order;
    };
    const order = await runOnce();
    const follows = new Map<string, number>();
    for (let i = 1; i < order.length; i++)
      if (order[i] !== order[i - 1]) follows.set(`${order[i - 1]}→${order[i]}`, (follows.get(`${order[i - 1]}→${order[i]}`) ?? 0) + 1);
    assert.equal(follows.size, 12, `every ordered pair of the 4 paths occurs: ${[...follows.keys()].join(' ')}`);
    // 600 turns give about 2,400 pairs, 200 for each of the 12 when fair: a rotation would leave 4 of them at 0–1.
    for (const [pair, count] of follows) assert.ok(count > 120, `${pair} occurred only ${count} times`);
    assert.deepEqual(await runOnce(), order, 'seeded: the same order each run');
  });
});
