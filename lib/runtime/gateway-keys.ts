/**
 * The config keys of every function that calls gRPC backends through discovery (greet and status, rpc):
 * deadlines, hedging and ejection, discovery polling, channel reuse and the Connect identity presented.
 * One spec per key, so the functions cannot drift apart in a default or a bound.
 */
import { intKey, textKey, type ConfigValues, type KeySpecs } from '../config/key-specs';
import type { CallPolicySettings } from '../grpc/call-policy';
import type { ServiceWatchOptions } from '../discovery/service-watch';

/** The call-tuning keys a gateway function merges into its own. */
export const CALL_KEYS = {
  gatewayIdentity: {
    schema: textKey(/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)?$/, 'must be empty or a DNS-style service name'),
    default: '',
    doc: 'Connect service identity the function presents (its token needs service:write on it; empty: leaseService)',
  },
  callDeadlineMs: { schema: intKey(50, 60_000), default: 2_000, doc: 'Deadline for one request, all attempts included' },
  deadlineMarginMs: { schema: intKey(0, 10_000), default: 250, doc: "Time kept back from the Lambda's remaining time to answer" },
  maxAttempts: {
    schema: intKey(1, 10),
    default: 3,
    doc: 'Attempts per call of a method that may run twice, hedged ones included; UNAVAILABLE moves on to another instance at once',
  },
  hedgeMinDelayMs: {
    schema: intKey(1, 60_000),
    default: 20,
    doc: 'Shortest wait before a hedged attempt goes to another instance (the wait follows the p95 latency)',
  },
  hedgeMaxDelayMs: {
    schema: intKey(1, 60_000),
    default: 200,
    doc: 'Longest wait before a hedged attempt, and the wait until enough calls were seen; keep it well below callDeadlineMs',
  },
  ejectionFailurePercent: {
    schema: intKey(1, 100),
    default: 50,
    doc: 'An instance whose attempts fail (or are cancelled) this often within a second is ejected',
  },
  ejectionMinRequests: {
    schema: intKey(1, 10_000),
    default: 10,
    doc: 'Attempts an instance needs within a second before it can be ejected',
  },
  ejectionBaseMs: {
    schema: intKey(1_000, 3_600_000),
    default: 30_000,
    doc: 'First ejection time; it grows with each new ejection of the same instance',
  },
  retryAfterSeconds: { schema: intKey(1, 300), default: 1, doc: 'Retry-After sent with 503 responses' },
  discoveryWaitSeconds: { schema: intKey(1, 300), default: 30, doc: 'Blocking-query wait for service discovery' },
  discoveryMinIntervalMs: { schema: intKey(0, 60_000), default: 500, doc: 'Least time between two discovery polls (rate limit)' },
  discoveryBackoffBaseMs: {
    schema: intKey(10, 60_000),
    default: 250,
    doc: 'First pause after a failed discovery poll; doubles per failure, with jitter',
  },
  discoveryBackoffMaxMs: { schema: intKey(100, 300_000), default: 10_000, doc: 'Longest pause between failed discovery polls' },
  coldStartWaitMs: { schema: intKey(100, 10_000), default: 1_500, doc: 'Longest a first call of a service waits for discovery' },
  channelMaxIdleMs: {
    schema: intKey(1_000, 3_600_000),
    default: 120_000,
    doc: 'A gRPC channel idle this long is replaced (its connections may have died while frozen)',
  },
} as const satisfies KeySpecs;

/** The values of the call-tuning keys, as any function's config holds them. */
export type CallConfig = ConfigValues<typeof CALL_KEYS> & { leaseService: string };

/** The hedging and ejection settings a call policy reads (pure). */
export function callPolicySettings(v: CallConfig): CallPolicySettings {
  return {
    maxAttempts: v.maxAttempts,
    hedgeMinDelayMs: v.hedgeMinDelayMs,
    hedgeMaxDelayMs: v.hedgeMaxDelayMs,
    ejectionFailurePercent: v.ejectionFailurePercent,
    ejectionMinRequests: v.ejectionMinRequests,
    ejectionBaseMs: v.ejectionBaseMs,
  };
}

/** The discovery poll settings a watch reads (pure). */
export function watchSettings(
  v: CallConfig,
): Pick<ServiceWatchOptions, 'waitSeconds' | 'minIntervalMs' | 'backoffBaseMs' | 'backoffMaxMs'> {
  return {
    waitSeconds: v.discoveryWaitSeconds,
    minIntervalMs: v.discoveryMinIntervalMs,
    backoffBaseMs: v.discoveryBackoffBaseMs,
    backoffMaxMs: v.discoveryBackoffMaxMs,
  };
}

/** The Connect identity the function presents. */
export function presentedIdentity(v: Pick<CallConfig, 'gatewayIdentity' | 'leaseService'>): string {
  return v.gatewayIdentity || v.leaseService;
}
