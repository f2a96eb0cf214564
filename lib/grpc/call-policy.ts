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
 *   failing over to another datacenter within a call has a bucket of the
 *   same form of its own (see failoverWithinBudget);
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

const bucket = (tokens: number) => Math.min(THROTTLING.maxTokens, Math.max(0, tokens));
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
          failure_percentage_ejection: {
            threshold: s.ejectionFailurePercent,
            enforcement_percentage: 100,
            minimum_hosts: 2,
            request_volume: s.ejectionMinRequests,
          },
          child_policy: [{ round_robin: {} }],
        },
      },
    ],
    // grpc-js wants at least 2 attempts in a hedging policy; one attempt is no policy at all.
    methodConfig:
      attempts >= 2
        ? [
            {
              name: [{ service: 'helloworld.Greeter', method: 'SayHello' }],
              hedgingPolicy: { maxAttempts: attempts, hedgingDelay: seconds(hedgeDelayMs), nonFatalStatusCodes: ['UNAVAILABLE'] },
            },
          ]
        : [],
  };
}

/**
 * Whether a call may try one more datacenter (pure): the failover bucket must hold a token beyond
 * the attempts the call already lost in failover datacenters. That bucket has the form of the
 * hedging one (A6's: a lost attempt costs a token, a successful call gives one back, 10 at most),
 * but counts only attempts made in failover datacenters. The hedging bucket counts the attempts
 * lost in the datacenter a call went to first, and throttles hedging there as before; had it
 * also gated the failover, a dead local datacenter would spend the budget that lets calls leave
 * it (each failed-over call loses its local attempts and gives one token back). So: while another
 * datacenter answers, failing over goes on; when every datacenter fails, each call loses a token
 * or more and failing over stops within ten calls, until successful calls refill the bucket.
 */
export function failoverWithinBudget(failoverTokens: number, lostInFailover: number): boolean {
  return failoverTokens - lostInFailover >= 1;
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
  private failoverTokens = THROTTLING.maxTokens;
  private recorded = 0;
  private throttled = false;

  constructor(private readonly settings: () => CallPolicySettings) {
    this.published = hedgeDelayMs(undefined, settings());
  }

  /**
   * Records one finished call: its latency when it succeeded, how many attempts it took, and how
   * many of them went to failover datacenters (`failoverAttempts`, default 0; a successful call that
   * failed over succeeded on the last of them). Tells subscribers when the delay moved by a quarter
   * or more, or the budget ran out or refilled.
   */
  record(call: { ok: boolean; attempts: number; failoverAttempts?: number; latencyMs?: number }): void {
    if (call.ok && call.latencyMs !== undefined) this.window.record(call.latencyMs);
    const failover = call.failoverAttempts ?? 0;
    const refill = call.ok ? THROTTLING.tokenRatio : 0;
    // The successful attempt is the last one: a failover datacenter's when the call failed over.
    const lostFirst = call.attempts - failover - (call.ok && failover === 0 ? 1 : 0);
    const lostInFailover = failover - (call.ok && failover > 0 ? 1 : 0);
    this.tokens = bucket(this.tokens - lostFirst - lostInFailover + refill);
    this.failoverTokens = bucket(this.failoverTokens - lostInFailover + refill);
    const throttled = this.tokens <= THROTTLING.maxTokens / 2;
    // The percentile sorts the window: on the warm path it is worth it once every few calls.
    const next = ++this.recorded % RECOMPUTE_EVERY === 0 || throttled !== this.throttled ? this.currentDelayMs() : this.published;
    const delayMoved = Math.abs(next - this.published) >= Math.max(2, this.published / 4);
    if (!delayMoved && throttled === this.throttled) return;
    this.published = next;
    this.throttled = throttled;
    for (const fn of this.listeners) fn();
  }

  /** True while the retry budget lets a call that lost `lostInFailover` attempts in failover datacenters try another one. */
  allowsFailover(lostInFailover: number): boolean {
    return failoverWithinBudget(this.failoverTokens, lostInFailover);
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
  snapshot(): { hedgeDelayMs: number; p95Ms?: number; samples: number; retryTokens: number; throttled: boolean; failoverTokens: number } {
    return {
      hedgeDelayMs: this.published,
      p95Ms: this.window.quantile(0.95),
      samples: this.window.count,
      retryTokens: Math.round(this.tokens * 10) / 10,
      throttled: this.throttled,
      failoverTokens: Math.round(this.failoverTokens * 10) / 10,
    };
  }

  private currentDelayMs(): number {
    return hedgeDelayMs(this.window.count >= MIN_SAMPLES ? this.window.quantile(0.95) : undefined, this.settings());
  }
}
