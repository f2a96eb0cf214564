/** The Consul health endpoint as a source of passing service instances. */
import type { CallOptions, ConsulApi, Indexed } from './consul-api';
import { pollTimeoutMs } from './blocking-query';
import { toServiceInstances, type ServiceInstance, type ServiceQuery } from './service-instances';

/** Where a service watch gets its data; an interface so the loop can be unit-tested. */
export interface HealthSource {
  /** Passing instances of `query`, blocking up to `waitSeconds` while `index` is current. */
  passingInstances(query: ServiceQuery, index: string | undefined, waitSeconds: number, signal: AbortSignal): Promise<Indexed<ServiceInstance[]>>;
}

/** A HealthSource backed by `/v1/health/service/<svc>?passing&stale`. */
export function consulHealthSource(api: ConsulApi): HealthSource {
  return {
    async passingInstances(query, index, waitSeconds, signal) {
      const opts: CallOptions = { signal, timeoutMs: index ? pollTimeoutMs(waitSeconds) : undefined };
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

/** An instance with the worst status of its checks. */
export interface InstanceHealth {
  instance: ServiceInstance;
  status: 'passing' | 'warning' | 'critical';
  checks: { id: string; status: string; output: string }[];
}

/** Every instance of `service` (any state) with its checks, from `/v1/health/service/<svc>`. */
export async function serviceHealth(api: ConsulApi, service: string, opts: CallOptions = {}): Promise<InstanceHealth[]> {
  const res = await api.callIndexed('consul.health.service', opts, (client, ctx) => client.health.service({ service, ctx }));
  const entries = Array.isArray(res.value) ? (res.value as { Node?: { Node?: string }; Service?: { ID?: string }; Checks?: { CheckID?: string; Status?: string; Output?: string }[] }[]) : [];
  const rank = { passing: 0, warning: 1, critical: 2 } as const;
  // The same service id may exist on two nodes: match on both.
  const byKey = new Map(entries.map((e) => [`${e.Node?.Node ?? ''}/${e.Service?.ID ?? ''}`, e]));
  return toServiceInstances(entries).map((instance) => {
    const entry = byKey.get(`${instance.node}/${instance.id}`);
    const checks = (entry?.Checks ?? []).map((c) => ({ id: c.CheckID ?? '', status: c.Status ?? 'critical', output: c.Output ?? '' }));
    const worst = checks.reduce<keyof typeof rank>((w, c) => {
      const s = (c.status in rank ? c.status : 'critical') as keyof typeof rank;
      return rank[s] > rank[w] ? s : w;
    }, 'passing');
    return { instance, status: worst, checks };
  });
}
