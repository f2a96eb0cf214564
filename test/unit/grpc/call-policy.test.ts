import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { experimental } from '@grpc/grpc-js';
// grpc-js's own validator of service configs: what the channel would reject.
import { validateServiceConfig } from '@grpc/grpc-js/build/src/service-config';
import { CallPolicy, greeterServiceConfig, hedgeDelayMs, type CallPolicySettings } from '../../../lib/grpc/call-policy';
import { callPolicySettings } from './call-policy-settings';

const SETTINGS: CallPolicySettings = callPolicySettings();

/** The hedging policy of the SayHello method config, or undefined when there is none (one attempt). */
function hedging(config: ReturnType<typeof greeterServiceConfig>) {
  const method = config.methodConfig[0];
  if (method) assert.deepEqual(method.name, [{ service: 'helloworld.Greeter', method: 'SayHello' }]);
  return method?.hedgingPolicy;
}
const attemptsOf = (config: ReturnType<typeof greeterServiceConfig>) => hedging(config)?.maxAttempts ?? 1;

describe('greeterServiceConfig', () => {
  it('hedges SayHello with maxAttempts, the delay, and UNAVAILABLE as non-fatal', () => {
    assert.deepEqual(hedging(greeterServiceConfig(SETTINGS, 1_234)), {
      maxAttempts: 3,
      hedgingDelay: '1.234s',
      nonFatalStatusCodes: ['UNAVAILABLE'],
    });
  });

  it('allows one attempt per call when throttled, by leaving the hedging policy out', () => {
    const config = greeterServiceConfig(SETTINGS, 200, true);
    assert.deepEqual(config.methodConfig, []);
    assert.equal(attemptsOf(config), 1);
  });

  it('wraps round robin in outlier detection with the configured ejection', () => {
    const [lb] = greeterServiceConfig({ ...SETTINGS, ejectionBaseMs: 1_500 }, 200).loadBalancingConfig;
    assert.deepEqual(lb, {
      outlier_detection: {
        interval: { seconds: 1, nanos: 0 },
        base_ejection_time: { seconds: 1, nanos: 500_000_000 },
        max_ejection_time: { seconds: 300, nanos: 0 },
        max_ejection_percent: 50,
        failure_percentage_ejection: { threshold: 50, enforcement_percentage: 100, minimum_hosts: 2, request_volume: 10 },
        child_policy: [{ round_robin: {} }],
      },
    });
  });

  it('never lets the maximum ejection time fall below the base', () => {
    const [lb] = greeterServiceConfig({ ...SETTINGS, ejectionBaseMs: 600_000 }, 200).loadBalancingConfig;
    assert.deepEqual((lb as { outlier_detection: { max_ejection_time: unknown } }).outlier_detection.max_ejection_time, {
      seconds: 600,
      nanos: 0,
    });
  });

  // Contract with grpc-js (pinned): a channel built with a config it rejects throws. Its validator
  // rejects a hedging policy of one attempt, so one attempt (throttled, or maxAttempts 1) has none.
  it('is a service config grpc-js accepts, with an outlier-detection LB config it parses', () => {
    for (const [maxAttempts, throttled] of [
      [1, false],
      [2, false],
      [3, false],
      [10, false],
      [3, true],
    ] as const) {
      const config = greeterServiceConfig({ ...SETTINGS, maxAttempts }, 75, throttled);
      assert.doesNotThrow(() => validateServiceConfig(JSON.parse(JSON.stringify(config))));
      const lb = experimental.parseLoadBalancingConfig(config.loadBalancingConfig[0]);
      assert.equal(lb.getLoadBalancerName(), 'outlier_detection');
    }
  });
});

describe('hedgeDelayMs', () => {
  it('is the maximum while there are too few samples', () => assert.equal(hedgeDelayMs(undefined, SETTINGS), 200));
  it('follows the p95 within the bounds, rounded', () => {
    assert.equal(hedgeDelayMs(57.4, SETTINGS), 57);
    assert.equal(hedgeDelayMs(5, SETTINGS), 20);
    assert.equal(hedgeDelayMs(5_000, SETTINGS), 200);
  });
  it('keeps to the maximum when the bounds are swapped', () => {
    assert.equal(hedgeDelayMs(5, { ...SETTINGS, hedgeMinDelayMs: 500, hedgeMaxDelayMs: 100 }), 100);
    assert.equal(hedgeDelayMs(5_000, { ...SETTINGS, hedgeMinDelayMs: 500, hedgeMaxDelayMs: 100 }), 100);
  });
});

describe('CallPolicy', () => {
  function policy(settings: CallPolicySettings = SETTINGS) {
    const p = new CallPolicy(() => settings);
    let changes = 0;
    p.subscribe(() => changes++);
    return { p, changes: () => changes };
  }

  it('starts with the maximum delay and every attempt allowed', () => {
    const { p } = policy();
    assert.equal(p.delayMs(), 200);
    assert.deepEqual(p.snapshot(), {
      hedgeDelayMs: 200,
      p95Ms: undefined,
      samples: 0,
      retryTokens: 10,
      throttled: false,
      failoverTokens: 10,
    });
    assert.equal(hedging(p.serviceConfig())?.maxAttempts, 3);
  });

  it('moves the delay to the p95 once 20 calls were seen, and tells subscribers', () => {
    const { p, changes } = policy();
    for (let i = 0; i < 19; i++) p.record({ ok: true, attempts: 1, latencyMs: 50 });
    assert.equal(p.delayMs(), 200, 'too few samples');
    assert.equal(changes(), 0);
    p.record({ ok: true, attempts: 1, latencyMs: 50 });
    assert.equal(p.delayMs(), 50);
    assert.equal(changes(), 1);
    assert.equal(hedging(p.serviceConfig())?.hedgingDelay, '0.050s');
  });

  it('keeps the published delay through moves of less than a quarter', () => {
    const { p, changes } = policy();
    for (let i = 0; i < 20; i++) p.record({ ok: true, attempts: 1, latencyMs: 100 });
    assert.equal(changes(), 1);
    for (let i = 0; i < 20; i++) p.record({ ok: true, attempts: 1, latencyMs: 120 });
    assert.equal(p.delayMs(), 100, '120 is within a quarter of 100');
    assert.equal(changes(), 1);
    for (let i = 0; i < 20; i++) p.record({ ok: true, attempts: 1, latencyMs: 130 });
    assert.equal(p.delayMs(), 130);
    assert.equal(changes(), 2);
  });

  it('learns no latency from failed calls', () => {
    const { p } = policy();
    for (let i = 0; i < 30; i++) p.record({ ok: false, attempts: 1, latencyMs: 5 });
    assert.equal(p.snapshot().samples, 0);
  });

  it('drops to one attempt per call once failed attempts spend half the budget, and recovers with successes', () => {
    const { p, changes } = policy();
    p.record({ ok: false, attempts: 3 });
    assert.deepEqual({ tokens: p.snapshot().retryTokens, throttled: p.snapshot().throttled }, { tokens: 7, throttled: false });
    p.record({ ok: false, attempts: 2 });
    assert.deepEqual({ tokens: p.snapshot().retryTokens, throttled: p.snapshot().throttled }, { tokens: 5, throttled: true });
    assert.equal(changes(), 1);
    assert.equal(attemptsOf(p.serviceConfig()), 1);
    p.record({ ok: true, attempts: 1 });
    assert.equal(p.snapshot().throttled, false, 'six tokens: above half');
    assert.equal(changes(), 2);
    assert.equal(hedging(p.serviceConfig())?.maxAttempts, 3);
  });

  it('counts the extra attempts of a successful call against the budget', () => {
    const { p } = policy();
    p.record({ ok: false, attempts: 3 });
    p.record({ ok: true, attempts: 3, latencyMs: 10 });
    assert.equal(p.snapshot().retryTokens, 6, '7 - 2 failed attempts + 1 for the success');
  });

  it('never holds more than 10 tokens nor fewer than 0', () => {
    const { p } = policy();
    for (let i = 0; i < 5; i++) p.record({ ok: true, attempts: 1 });
    assert.equal(p.snapshot().retryTokens, 10);
    p.record({ ok: false, attempts: 50 });
    assert.equal(p.snapshot().retryTokens, 0);
  });

  it('reads its settings each time it builds a config', () => {
    let settings = SETTINGS;
    const p = new CallPolicy(() => settings);
    settings = { ...SETTINGS, maxAttempts: 5 };
    assert.equal(hedging(p.serviceConfig())?.maxAttempts, 5);
  });

  it('stops telling a subscriber that unsubscribed', () => {
    const p = new CallPolicy(() => SETTINGS);
    let heard = 0;
    const unsubscribe = p.subscribe(() => heard++);
    unsubscribe();
    p.record({ ok: false, attempts: 10 });
    assert.equal(p.snapshot().throttled, true);
    assert.equal(heard, 0);
  });
});
