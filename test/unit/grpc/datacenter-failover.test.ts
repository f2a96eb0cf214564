import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { CallPolicy, failoverWithinBudget, type CallPolicySettings } from '../../../lib/grpc/call-policy';
import { callAcrossDatacenters, datacentersAfter, failoverDecision, type FailoverCall } from '../../../lib/grpc/datacenter-failover';
import { GreeterCallError, failureKind } from '../../../lib/grpc/errors';
import { callPolicySettings } from './call-policy-settings';

const failure = (code: number, attempts = 1) => new GreeterCallError(failureKind(code), code, attempts, status[code] ?? 'x');
const unavailable = (attempts = 1) => failure(status.UNAVAILABLE, attempts);
const ok = (who: string, attempts = 1) => ({ who, attempts });

describe('datacentersAfter', () => {
  it('tries every failover datacenter in order after the local one', () => {
    assert.deepEqual(datacentersAfter(['dc2', 'dc3'], undefined), ['dc2', 'dc3']);
  });
  it('once the watch serves a failover datacenter, tries it again through its own channel, then the later ones', () => {
    assert.deepEqual(datacentersAfter(['dc2', 'dc3', 'dc4'], 'dc3'), ['dc3', 'dc4']);
    assert.deepEqual(datacentersAfter(['dc2'], 'dc2'), ['dc2']);
  });
  it('tries nothing for a datacenter outside the list, or without failover', () => {
    assert.deepEqual(datacentersAfter(['dc2'], 'dc9'), []);
    assert.deepEqual(datacentersAfter([], undefined), []);
  });
});

describe('failoverDecision', () => {
  const base = { now: 1_000, deadline: 2_000, budgetLeft: true, datacentersLeft: 1 };
  it('fails over on UNAVAILABLE (how grpc-js reports refused and reset connections)', () => {
    assert.equal(failoverDecision({ ...base, err: unavailable(3) }), 'failover');
  });
  it('never fails over on an application error, a denial or a slow backend', () => {
    for (const code of [
      status.INVALID_ARGUMENT,
      status.NOT_FOUND,
      status.INTERNAL,
      status.UNKNOWN,
      status.PERMISSION_DENIED,
      status.RESOURCE_EXHAUSTED,
      status.DEADLINE_EXCEEDED,
      status.CANCELLED,
    ]) {
      assert.equal(failoverDecision({ ...base, err: failure(code) }), 'not_unavailable', status[code]);
    }
  });
  it('never fails over on an error that is not a call failure', () => {
    assert.equal(failoverDecision({ ...base, err: new Error('bug') }), 'not_unavailable');
  });
  it('stops at the deadline, when the budget is spent, or with no datacenter left', () => {
    assert.equal(failoverDecision({ ...base, err: unavailable(), now: 2_000 }), 'deadline');
    assert.equal(failoverDecision({ ...base, err: unavailable(), budgetLeft: false }), 'budget');
    assert.equal(failoverDecision({ ...base, err: unavailable(), datacentersLeft: 0 }), 'no_datacenter_left');
  });
});

describe('failoverWithinBudget', () => {
  it('needs a token left after the attempts the call lost in failover datacenters', () => {
    assert.equal(failoverWithinBudget(10, 3), true);
    assert.equal(failoverWithinBudget(4, 3), true);
    assert.equal(failoverWithinBudget(3, 3), false);
    assert.equal(failoverWithinBudget(0, 1), false);
  });
});

describe('CallPolicy.allowsFailover', () => {
  const SETTINGS: CallPolicySettings = callPolicySettings();
  it('keeps failing over while the other datacenter answers, and still throttles hedging towards the dead one', () => {
    const policy = new CallPolicy(() => SETTINGS);
    for (let i = 0; i < 50; i++) {
      const lostLocally = policy.snapshot().throttled ? 1 : 3;
      assert.equal(policy.allowsFailover(0), true, `call ${i}`);
      policy.record({ ok: true, attempts: lostLocally + 1, failoverAttempts: 1 });
    }
    assert.deepEqual(
      { throttled: policy.snapshot().throttled, failoverTokens: policy.snapshot().failoverTokens },
      { throttled: true, failoverTokens: 10 },
    );
  });

  it('stops failing over within ten calls when every datacenter fails, and successful calls refill it', () => {
    const policy = new CallPolicy(() => SETTINGS);
    let failedOver = 0;
    for (let i = 0; i < 50; i++) {
      const allowed = policy.allowsFailover(0);
      if (allowed) failedOver++;
      policy.record({ ok: false, attempts: 1 + (allowed ? 1 : 0), failoverAttempts: allowed ? 1 : 0 });
    }
    assert.ok(failedOver > 0 && failedOver <= 10, `failed over ${failedOver} times`);
    assert.equal(policy.allowsFailover(0), false);
    policy.record({ ok: true, attempts: 1 });
    assert.equal(policy.allowsFailover(0), true);
  });

  it('counts attempts lost in failover datacenters within a call against the same bucket', () => {
    const policy = new CallPolicy(() => SETTINGS);
    for (let i = 0; i < 4; i++) policy.record({ ok: false, attempts: 3, failoverAttempts: 2 });
    assert.equal(policy.snapshot().failoverTokens, 2);
    assert.equal(policy.allowsFailover(0), true);
    assert.equal(policy.allowsFailover(1), true);
    assert.equal(policy.allowsFailover(2), false);
  });
});

describe('callAcrossDatacenters', () => {
  type R = ReturnType<typeof ok>;
  const setup = (over: Partial<FailoverCall<R>> & { remote?: Record<string, () => Promise<R | undefined>> }) => {
    const asked: string[] = [];
    const unavailableIn: (string | undefined)[] = [];
    const call: FailoverCall<R> = {
      first: () => Promise.resolve(ok('local')),
      servedDatacenter: undefined,
      failover: ['dc2', 'dc3'],
      deadline: 10_000,
      now: () => 0,
      budgetAllows: () => true,
      inDatacenter: (dc) => {
        asked.push(dc);
        return over.remote?.[dc]?.() ?? Promise.resolve(ok(dc));
      },
      onUnavailable: (dc) => unavailableIn.push(dc),
      ...over,
    };
    return { call, asked, unavailableIn };
  };

  it('answers from the first datacenter without asking another', async () => {
    const { call, asked } = setup({});
    assert.deepEqual(await callAcrossDatacenters(call), {
      result: ok('local'),
      datacenter: undefined,
      failedOver: false,
      attempts: 1,
      failoverAttempts: 0,
    });
    assert.deepEqual(asked, []);
  });

  it('moves an UNAVAILABLE call to dc2 and sums the attempts', async () => {
    const { call, asked, unavailableIn } = setup({ first: () => Promise.reject(unavailable(3)) });
    assert.deepEqual(await callAcrossDatacenters(call), {
      result: ok('dc2'),
      datacenter: 'dc2',
      failedOver: true,
      attempts: 4,
      failoverAttempts: 1,
    });
    assert.deepEqual(asked, ['dc2']);
    assert.deepEqual(unavailableIn, [undefined]);
  });

  it('goes on in order: skips a datacenter with no passing instance, and one that is UNAVAILABLE too', async () => {
    const { call, asked, unavailableIn } = setup({
      failover: ['dc2', 'dc3', 'dc4'],
      first: () => Promise.reject(unavailable(1)),
      remote: { dc2: () => Promise.resolve(undefined), dc3: () => Promise.reject(unavailable(2)) },
    });
    const r = await callAcrossDatacenters(call);
    assert.deepEqual(r, { result: ok('dc4'), datacenter: 'dc4', failedOver: true, attempts: 4, failoverAttempts: 3 });
    assert.deepEqual(asked, ['dc2', 'dc3', 'dc4']);
    assert.deepEqual(unavailableIn, [undefined, 'dc3']);
  });

  it('asks the datacenter the watch already serves again through its own channel, then the later ones', async () => {
    const again = setup({ servedDatacenter: 'dc2', first: () => Promise.reject(unavailable()) });
    assert.equal((await callAcrossDatacenters(again.call)).datacenter, 'dc2');
    assert.deepEqual(again.asked, ['dc2']);
    const later = setup({
      servedDatacenter: 'dc2',
      first: () => Promise.reject(unavailable()),
      remote: { dc2: () => Promise.reject(unavailable()) },
    });
    assert.equal((await callAcrossDatacenters(later.call)).datacenter, 'dc3');
    assert.deepEqual(later.asked, ['dc2', 'dc3']);
  });

  for (const code of [status.INVALID_ARGUMENT, status.DEADLINE_EXCEEDED, status.PERMISSION_DENIED, status.INTERNAL]) {
    it(`returns ${status[code]} as is, without asking another datacenter`, async () => {
      const err = failure(code, 2);
      const { call, asked, unavailableIn } = setup({ first: () => Promise.reject(err) });
      await assert.rejects(callAcrossDatacenters(call), (e) => e === err);
      assert.deepEqual(asked, []);
      assert.deepEqual(unavailableIn, []);
    });
  }

  it('stops at an application error of the failover datacenter', async () => {
    const { call, asked } = setup({
      first: () => Promise.reject(unavailable(2)),
      remote: { dc2: () => Promise.reject(failure(status.INVALID_ARGUMENT)) },
    });
    await assert.rejects(
      callAcrossDatacenters(call),
      (e) => e instanceof GreeterCallError && e.grpcCode === status.INVALID_ARGUMENT && e.attempts === 3 && e.failoverAttempts === 1,
    );
    assert.deepEqual(asked, ['dc2']);
  });

  it('does not fail over past the deadline', async () => {
    let t = 0;
    const { call, asked } = setup({
      deadline: 100,
      now: () => t,
      first: () => {
        t = 100;
        return Promise.reject(unavailable());
      },
    });
    await assert.rejects(callAcrossDatacenters(call), (e) => e instanceof GreeterCallError && e.grpcCode === status.UNAVAILABLE);
    assert.deepEqual(asked, []);
  });

  it('does not fail over without budget, and tells the budget the attempts lost in failover datacenters', async () => {
    const seen: number[] = [];
    const { call, asked } = setup({
      first: () => Promise.reject(unavailable(3)),
      remote: { dc2: () => Promise.reject(unavailable(2)) },
      budgetAllows: (lostInFailover) => {
        seen.push(lostInFailover);
        return lostInFailover < 2;
      },
    });
    await assert.rejects(callAcrossDatacenters(call), (e) => e instanceof GreeterCallError && e.attempts === 5 && e.failoverAttempts === 2);
    assert.deepEqual(asked, ['dc2']);
    assert.deepEqual(seen, [0, 2]);
  });

  it('does not fail over at all with an empty budget', async () => {
    const { call, asked } = setup({ first: () => Promise.reject(unavailable(1)), budgetAllows: () => false });
    await assert.rejects(callAcrossDatacenters(call), (e) => e instanceof GreeterCallError && e.attempts === 1);
    assert.deepEqual(asked, []);
  });

  it('throws the last UNAVAILABLE with every attempt counted when every datacenter fails', async () => {
    const { call } = setup({
      first: () => Promise.reject(unavailable(3)),
      remote: { dc2: () => Promise.reject(unavailable(1)), dc3: () => Promise.resolve(undefined) },
    });
    await assert.rejects(
      callAcrossDatacenters(call),
      (e) => e instanceof GreeterCallError && e.kind === 'unavailable' && e.attempts === 4 && e.failoverAttempts === 1,
    );
  });

  it('lets an error that is not a call failure through at once', async () => {
    const bug = new TypeError('bug');
    const { call, asked } = setup({ first: () => Promise.reject(bug) });
    await assert.rejects(callAcrossDatacenters(call), (e) => e === bug);
    assert.deepEqual(asked, []);
  });
});
