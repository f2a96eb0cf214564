/** The Consul health endpoint: every instance of a service with its checks. */
import type { CallOptions, ConsulApi } from './consul-api';
import { toServiceInstances, type ServiceInstance } from './service-instances';

/** An instance with the worst status of its checks. */
export interface InstanceHealth {
  instance: ServiceInstance;
  status: 'passing' | 'warning' | 'critical';
  checks: { id: string; status: string; output: string }[];
}

/** Every instance of `service` (any state) with its checks, from `/v1/health/service/<svc>`. */
export async function serviceHealth(api: ConsulApi, service: string, opts: CallOptions = {}): Promise<InstanceHealth[]> {
  const res = await api.callIndexed('consul.health.service', opts, (client, ctx) => client.health.service({ service, ctx }));
  const entries = Array.isArray(res.value)
    ? (res.value as {
        Node?: { Node?: string };
        Service?: { ID?: string };
        Checks?: { CheckID?: string; Status?: string; Output?: string }[];
      }[])
    : [];
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
