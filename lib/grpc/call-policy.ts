/**
 * How Greeter calls ride out sick backends, expressed as grpc-js's own
 * service config (gRFC A6 hedging and throttling, outlier-detection LB) rather
 * than hand-written loops:
 * - hedging: a second attempt goes to the next instance after a delay that
 *   follows the observed p95, and an UNAVAILABLE answer moves on at once; the
 *   first answer wins and the others are cancelled;
 * - a retry budget (gRFC A6's token bucket): grpc-js applies its own
 *   `retryThrottling` to retries but not to hedges, so the policy keeps the
 *   bucket itself and, once it runs low, publishes a config with one attempt
 *   per call until successes refill it; a sick fleet gets no retry storm;
 *   the same bucket bounds failing over to another datacenter within a call
 *   (datacenter-failover.ts, failoverWithinBudget);
 * - outlier detection: an instance whose attempts keep failing (a hung one's
 *   are cancelled, which counts) is ejected for a while.
 * The delay is pushed to the channel through the `consul:` resolver, so it
 * changes without a new channel.
 */
import type { ServiceConfig } from '@grpc/grpc-js';
import { LatencyWindow } from './latency-window';

/** The tuning a CallPolicy reads from config before each decision. */
export interface CallPolicySettings {
  maxAttempts: number;
  hedgeMinDelayMs: number;
  hedgeMaxDelayMs: number;
  ejectionFailurePercent: number;
  ejectionMinRequests: number;
  ejectionBaseMs: number;
}

/** grpc-js service config; plain JSON, so it also serialises into the `grpc.service_config` channel option. */
export type ServiceConfigJson = ServiceConfig;

// A6's token bucket: each extra attempt costs a token, each successful call gives one back; at
// or below half of 10 tokens calls get one attempt until successes refill it. One token back per
// success (A6's example uses 0.1) lets one bad instance of a few be routed around until outlier
// detection ejects it, while a fleet that fails everywhere is down to one attempt per call after
// about five failures.
const THROTTLING = { maxTokens: 10, tokenRatio: 1 };
// Samples needed before the p95 is trusted; until then the delay is the configured maximum.
const MIN_SAMPLES = 20;
// Calls between two computations of the p95.
const RECOMPUTE_EVERY = 10;

const seconds = (ms: number) => `${(ms / 1000).toFixed(3)}s`;
const duration = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 });

/** The channel's service config for `settings` and a hedging delay; `throttled`: one attempt per call (pure). */
export function greeterServiceConfig(s: CallPolicySettings, hedgeDelayMs: number, throttled = false): ServiceConfigJson {
  // SayHello is idempotent, so a duplicate attempt costs only load.
  const attempts = throttled ? 1 : s.maxAttempts;
  return {
    loadBalancingConfig: [
      {
        // grpc-js reads this LB config in its proto-JSON field names (snake_case).
        outlier_detection: {
          interval: duration(1_000),
          base_ejection_time: duration(s.ejectionBaseMs),
          max_ejection_time: duration(Math.max(s.ejectionBaseMs, 300_000)),
          // Never eject more than half: with one healthy instance left, it is better to try than to fail.
          max_ejection_percent: 50,
          failure_percentage_ejection: { threshold: s.ejectionFailurePercent, enforcement_percentage: 100, minimum_hosts: 2, request_volume: s.ejectionMinRequests },
          child_policy: [{ round_robin: {} }],
        },
      },
    ],
    // grpc-js wants at least 2 attempts in a hedging policy; one attempt is no policy at all.
    methodConfig: attempts >= 2 ? [{ name: [{ service: 'helloworld.Greeter', method: 'SayHello' }], hedgingPolicy: { maxAttempts: attempts, hedgingDelay: seconds(hedgeDelayMs), nonFatalStatusCodes: ['UNAVAILABLE'] } }] : [],
  };
}

/**
 * Whether a call that already lost `lostAttempts` may try another datacenter (pure): the bucket
 * must keep a token after them. Unlike hedging, this holds below the throttling threshold: while
 * the other datacenter answers, each call costs one token and gives one back, so failing over
 * stays possible for as long as it works, and a failure everywhere (two lost tokens a call)
 * empties the bucket and ends it after a few calls.
 */
export function failoverWithinBudget(tokens: number, lostAttempts: number): boolean {
  return tokens - lostAttempts >= 1;
}

/** The hedging delay for a p95 (undefined: too few samples), within the configured bounds (pure). */
export function hedgeDelayMs(p95: number | undefined, s: CallPolicySettings): number {
  const min = Math.min(s.hedgeMinDelayMs, s.hedgeMaxDelayMs);
  if (p95 === undefined) return s.hedgeMaxDelayMs;
  return Math.round(Math.min(s.hedgeMaxDelayMs, Math.max(min, p95)));
}

/** Observed latencies and the service config that follows from them, for one runtime's Greeter channels. */
export class CallPolicy {
  private readonly window = new LatencyWindow();
  private readonly listeners = new Set<() => void>();
  private published: number;
  private tokens = THROTTLING.maxTokens;
  private recorded = 0;
  private throttled = false;

  constructor(private readonly settings: () => CallPolicySettings) {
    this.published = hedgeDelayMs(undefined, settings());
  }

  /**
   * Records one finished call: its latency when it succeeded, and how many attempts it
   * took. Tells subscribers when the delay moved by a quarter or more, or the budget
   * ran out or refilled.
   */
  record(call: { ok: boolean; attempts: number; latencyMs?: number }): void {
    if (call.ok && call.latencyMs !== undefined) this.window.record(call.latencyMs);
    const failedAttempts = call.ok ? call.attempts - 1 : call.attempts;
    this.tokens = Math.min(THROTTLING.maxTokens, Math.max(0, this.tokens - failedAttempts + (call.ok ? THROTTLING.tokenRatio : 0)));
    const throttled = this.tokens <= THROTTLING.maxTokens / 2;
    // The percentile sorts the window: on the warm path it is worth it once every few calls.
    const next = ++this.recorded % RECOMPUTE_EVERY === 0 || throttled !== this.throttled ? this.currentDelayMs() : this.published;
    const delayMoved = Math.abs(next - this.published) >= Math.max(2, this.published / 4);
    if (!delayMoved && throttled === this.throttled) return;
    this.published = next;
    this.throttled = throttled;
    for (const fn of this.listeners) fn();
  }

  /** True while the retry budget lets a call that lost `lostAttempts` attempts try another datacenter. */
  allowsFailover(lostAttempts: number): boolean {
    return failoverWithinBudget(this.tokens, lostAttempts);
  }

  /** The hedging delay in force. */
  delayMs(): number {
    return this.published;
  }

  /** The service config the channels should use now. */
  serviceConfig(): ServiceConfigJson {
    return greeterServiceConfig(this.settings(), this.published, this.throttled);
  }

  /** Calls `fn` when the service config changed; returns an unsubscribe function. */
  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** What /status shows. */
  snapshot(): { hedgeDelayMs: number; p95Ms?: number; samples: number; retryTokens: number; throttled: boolean } {
    return { hedgeDelayMs: this.published, p95Ms: this.window.quantile(0.95), samples: this.window.count, retryTokens: Math.round(this.tokens * 10) / 10, throttled: this.throttled };
  }

  private currentDelayMs(): number {
    return hedgeDelayMs(this.window.count >= MIN_SAMPLES ? this.window.quantile(0.95) : undefined, this.settings());
  }
}
