/** Call-policy settings for unit tests: the gateway's defaults, spelled out once. */
import type { CallPolicySettings } from '../../../lib/grpc/call-policy';

/** A fresh copy each call, so a test may change one field without touching the next test. */
export function callPolicySettings(): CallPolicySettings {
  return {
    maxAttempts: 3,
    hedgeMinDelayMs: 20,
    hedgeMaxDelayMs: 200,
    ejectionFailurePercent: 50,
    ejectionMinRequests: 10,
    ejectionBaseMs: 30_000,
  };
}
