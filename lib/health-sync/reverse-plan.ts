/**
 * The optional reverse direction (pure): instances of selected Cloud Map
 * services that this job does not own become external services on a synthetic
 * Consul node. Never our own mirror (no loop), and the forward mirror skips
 * anything carrying EXTERNAL_SOURCE.
 */
import type { ExternalService } from '../consul/catalog';
import type { ActualService } from '../cloudmap/types';

/** Meta marking a Consul service imported from Cloud Map. */
export const EXTERNAL_SOURCE = { key: 'external-source', value: 'aws-cloud-map' } as const;

/** What to change on the synthetic node. */
export interface ReversePlan {
  register: ExternalService[];
  deregister: string[];
}

/** Consul id of an imported instance: stable, and safe for Consul's id rules. */
export function importedId(service: string, instanceId: string): string {
  return `cloudmap-${service}-${instanceId}`.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 128);
}

/** The external services the selected Cloud Map services should give, then the diff with `existing`. */
export function planReverse(
  services: readonly ActualService[],
  importNames: readonly string[],
  existing: readonly ExternalService[],
): ReversePlan {
  const wanted: ExternalService[] = [];
  for (const svc of services) {
    if (!importNames.includes(svc.name)) continue;
    for (const inst of svc.instances ?? []) {
      const ipv4 = inst.attributes.AWS_INSTANCE_IPV4;
      // Cloud Map instances need not have a port; Consul takes 0 for "none".
      const port = Number(inst.attributes.AWS_INSTANCE_PORT ?? 0);
      if (!ipv4 || !Number.isInteger(port) || port < 0 || port > 65535) continue;
      wanted.push({
        id: importedId(svc.name, inst.id),
        service: svc.name,
        address: ipv4,
        port,
        tags: [],
        meta: { [EXTERNAL_SOURCE.key]: EXTERNAL_SOURCE.value, 'cloud-map-service-id': svc.id, 'cloud-map-instance-id': inst.id },
        // UNKNOWN (no custom health) counts as healthy, as Cloud Map's DiscoverInstances does.
        status: inst.health === 'UNHEALTHY' ? 'critical' : 'passing',
      });
    }
  }
  const have = new Map(existing.filter((e) => e.meta[EXTERNAL_SOURCE.key] === EXTERNAL_SOURCE.value).map((e) => [e.id, e]));
  const register = wanted.filter((w) => {
    const h = have.get(w.id);
    return !h || h.address !== w.address || h.port !== w.port || h.status !== w.status || h.service !== w.service;
  });
  const wantedIds = new Set(wanted.map((w) => w.id));
  const deregister = [...have.keys()].filter((id) => !wantedIds.has(id));
  return { register, deregister };
}
