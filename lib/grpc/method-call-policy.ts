/**
 * The call policy (call-policy.ts: hedging delay from the p95, retry budget, outlier ejection) of the
 * channels of one gRPC service, with its hedging policy applied to that service's idempotent methods
 * only: every other method gets one attempt (grpc-js's transparent retries of calls that never left
 * the client still apply) and the same outlier ejection.
 */
import { CallPolicy, type CallPolicySettings, type ServiceConfigJson } from './call-policy';

/** `{service, method}` names as grpc-js's method config reads them. */
export type MethodName = { service: string; method: string };

/** A CallPolicy whose hedging covers `methods` (none: no hedging at all). */
export class MethodCallPolicy extends CallPolicy {
  constructor(
    settings: () => CallPolicySettings,
    private readonly methods: readonly MethodName[],
  ) {
    super(settings);
  }

  override serviceConfig(): ServiceConfigJson {
    const base = super.serviceConfig();
    const hedging = base.methodConfig[0];
    return { ...base, methodConfig: hedging && this.methods.length ? [{ ...hedging, name: [...this.methods] }] : [] };
  }
}
