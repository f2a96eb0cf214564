/** Where a service watch gets its data: an interface, and its Consul implementation. */
import type { CallOptions, ConsulApi, Indexed } from '../consul/consul-api';
import { toServiceInstances, type ServiceInstance } from '../consul/service-instances';
import { pollTimeoutMs } from './blocking-query';
import type { ServiceQuery } from './service-query';

/** The discovery sources a gateway can be configured with. */
export type DiscoverySourceName = 'consul' | 'dns' | 'cloudmap';

/**
 * Where a service watch gets its data; an interface so the loop can be unit-tested.
 * A source that cannot block (DNS, Cloud Map) emulates a blocking query: with an `index`
 * it answers when its list changed or `waitSeconds` passed, and its indexes are decimal
 * counters that grow with every change, so ServiceWatch treats every source alike.
 */
export interface HealthSource {
  /** Which source this is (for a fallback: its primary), for /status, logs and metrics. */
  readonly name: DiscoverySourceName;
  /** Passing instances of `query`, blocking up to `waitSeconds` while `index` is current. */
  passingInstances(
    query: ServiceQuery,
    index: string | undefined,
    waitSeconds: number,
    signal: AbortSignal,
  ): Promise<Indexed<ServiceInstance[]>>;
  /** A call found an address of `query` dead: look again now rather than at the next refresh (no-op where Consul pushes changes). */
  invalidate?(query: ServiceQuery): void;
}

/** A HealthSource backed by `/v1/health/service/<svc>?passing&stale` (`/v1/health/connect/<svc>` for a `connect` query). */
export function consulHealthSource(api: ConsulApi): HealthSource {
  return {
    name: 'consul',
    async passingInstances(query, index, waitSeconds, signal) {
      const opts: CallOptions = index ? { signal, timeoutMs: pollTimeoutMs(waitSeconds), blocking: true } : { signal };
      if (query.connect) {
        // node-consul has no method for the Connect health endpoint; same parameters, same answer shape.
        const res = await api.requestIndexed('consul.health.connect', opts, {
          path: `/health/connect/${encodeURIComponent(query.service)}`,
          query: {
            passing: 'true',
            stale: 'true',
            ...(query.datacenter ? { dc: query.datacenter } : {}),
            ...(index ? { index, wait: `${waitSeconds}s` } : {}),
          },
        });
        // Consul (1.16) ignores `tag` on this endpoint, so the tag filter is applied here.
        const all = toServiceInstances(res.value);
        return { value: query.tag ? all.filter((i) => i.tags.includes(query.tag!)) : all, index: res.index };
      }
      const res = await api.callIndexed('consul.health.service', opts, (client, ctx) =>
        client.health.service({
          service: query.service,
          passing: true,
          // Any server may answer: discovery tolerates a little staleness and stays up without a leader.
          stale: true,
          ctx,
          ...(query.tag ? { tag: query.tag } : {}),
          ...(query.datacenter ? { dc: query.datacenter } : {}),
          ...(index ? { index, wait: `${waitSeconds}s` } : {}),
        }),
      );
      return { value: toServiceInstances(res.value), index: res.index };
    },
  };
}
