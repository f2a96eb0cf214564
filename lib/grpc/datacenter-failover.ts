/**
 * Datacenter failover within one call: when the datacenter a call went to
 * answered UNAVAILABLE on every attempt (its instances refuse connections or
 * are gone), the same call moves on to the next datacenter of
 * `greeterFailoverDatacenters`, without waiting for Consul's checks to mark
 * the instances critical.
 *
 * Why hand-written: grpc-js retries and hedges only among the addresses of one
 * channel, and its only load balancers are pick_first, round_robin,
 * weighted_round_robin and outlier_detection; the `priority` policy that would
 * order datacenters inside one channel lives in the xDS package, which needs an
 * xDS control plane. So each datacenter keeps its own channel (with grpc-js's
 * hedging, throttling and ejection as in call-policy.ts), and this loop only
 * decides whether to try the next channel. The decision is bounded three ways:
 * - only UNAVAILABLE moves on (grpc-js reports a refused or reset connection
 *   as UNAVAILABLE); an application error, a PERMISSION_DENIED and a
 *   DEADLINE_EXCEEDED of a slow backend never do;
 * - the call's one absolute deadline covers every datacenter;
 * - the retry budget (CallPolicy's token bucket, see failoverWithinBudget)
 *   must hold a token, so a failure everywhere stops failing over after a few
 *   calls.
 */
import { status } from '@grpc/grpc-js';
import { GreeterCallError } from './errors';

/** Why a failed call may not move to another datacenter, or `failover`. */
export type FailoverDecision = 'failover' | 'not_unavailable' | 'deadline' | 'budget' | 'no_datacenter_left';

/**
 * The datacenters to try after the first call failed, in configured order (pure). `served` is the datacenter
 * whose list the watch held (`undefined`: the local one). A failover datacenter the watch already served is
 * tried again first, through its own channel: the first call went through the query's channel, whose
 * resolver can still hold the dead local addresses in the moment the watch flips to that datacenter.
 */
export function datacentersAfter(failover: readonly string[], served: string | undefined): string[] {
  if (served === undefined) return [...failover];
  const at = failover.indexOf(served);
  return at < 0 ? [] : failover.slice(at);
}

/** Whether a call that failed with `err` may go on to another datacenter (pure). */
export function failoverDecision(o: {
  err: unknown;
  now: number;
  deadline: number;
  budgetLeft: boolean;
  datacentersLeft: number;
}): FailoverDecision {
  if (!(o.err instanceof GreeterCallError) || o.err.grpcCode !== status.UNAVAILABLE) return 'not_unavailable';
  if (o.now >= o.deadline) return 'deadline';
  if (!o.budgetLeft) return 'budget';
  return o.datacentersLeft > 0 ? 'failover' : 'no_datacenter_left';
}

/** A call's answer in one datacenter. */
export interface AttemptResult {
  attempts: number;
}

/** What the loop needs to reach each datacenter; every function honours `deadline` (epoch ms). */
export interface FailoverCall<R extends AttemptResult> {
  /** The call through the channel that serves the watch's list (local, or a failover datacenter once Consul says so). */
  first: () => Promise<R>;
  /** The datacenter `first` went to (`undefined`: local). */
  servedDatacenter: string | undefined;
  /** `greeterFailoverDatacenters`, in order. */
  failover: readonly string[];
  deadline: number;
  /** The call in datacenter `dc`; `undefined` when it has no passing instance (skipped, costs nothing). */
  inDatacenter: (dc: string) => Promise<R | undefined>;
  /** True while the retry budget allows another datacenter after `lostInFailover` attempts lost in failover datacenters. */
  budgetAllows: (lostInFailover: number) => boolean;
  /** Told each time a datacenter's instances all answered UNAVAILABLE (discovery may re-resolve). */
  onUnavailable?: (dc: string | undefined, err: GreeterCallError) => void;
  now?: () => number;
}

/** The answer, where it came from, and every attempt the call made across datacenters. */
export interface FailoverResult<R> {
  result: R;
  /** The datacenter that answered (`undefined`: local). */
  datacenter: string | undefined;
  /** True when a datacenter other than the first one tried answered. */
  failedOver: boolean;
  attempts: number;
  /** How many of `attempts` went to failover datacenters. */
  failoverAttempts: number;
}

/**
 * Calls `first`, then each later datacenter while the decision says `failover`; throws the last
 * GreeterCallError with the attempts of every datacenter summed (and those of failover datacenters apart).
 */
export async function callAcrossDatacenters<R extends AttemptResult>(c: FailoverCall<R>): Promise<FailoverResult<R>> {
  const now = c.now ?? Date.now;
  let lost = 0;
  let lostFirst: number;
  let last: GreeterCallError;
  const failed = (dc: string | undefined, err: unknown): GreeterCallError => {
    if (!(err instanceof GreeterCallError)) throw err;
    lost += err.attempts;
    if (err.grpcCode === status.UNAVAILABLE) c.onUnavailable?.(dc, err);
    return err;
  };
  try {
    const result = await c.first();
    return { result, datacenter: c.servedDatacenter, failedOver: false, attempts: result.attempts, failoverAttempts: 0 };
  } catch (err) {
    last = failed(c.servedDatacenter, err);
    lostFirst = lost;
  }
  const queue = datacentersAfter(c.failover, c.servedDatacenter);
  for (let i = 0; i < queue.length; i++) {
    if (
      failoverDecision({
        err: last,
        now: now(),
        deadline: c.deadline,
        budgetLeft: c.budgetAllows(lost - lostFirst),
        datacentersLeft: queue.length - i,
      }) !== 'failover'
    )
      break;
    const dc = queue[i] as string;
    try {
      // A datacenter without a passing instance is skipped; the next one is asked within the same deadline.
      const result = await c.inDatacenter(dc);
      if (result)
        return {
          result,
          datacenter: dc,
          failedOver: true,
          attempts: lost + result.attempts,
          failoverAttempts: lost - lostFirst + result.attempts,
        };
    } catch (err) {
      last = failed(dc, err);
    }
  }
  if (last.attempts === lost) throw last;
  throw new GreeterCallError(last.kind, last.grpcCode, lost, last.message, { cause: last.cause, failoverAttempts: lost - lostFirst });
}
