/** Pure conversion of Consul health entries into the instances we route to. */

/** A service registration as every Consul endpoint describes it. */
export interface ServiceEntry {
  id: string;
  service: string;
  address: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
}

/** One routable instance of a service, with the node it is registered on. */
export interface ServiceInstance extends ServiceEntry {
  node: string;
  /** Set when the instance was found in a failover datacenter rather than the one asked first. */
  datacenter?: string;
}

interface RawEntry {
  Node?: { Node?: unknown; Address?: unknown };
  Service?: { ID?: unknown; Service?: unknown; Address?: unknown; Port?: unknown; Tags?: unknown; Meta?: unknown };
}

/**
 * Turns `/v1/health/service` entries into instances, deduplicated by node+id and
 * sorted, so that equal lists compare equal however Consul ordered them.
 * Entries without a usable port are dropped; an empty service address falls
 * back to the node address, as Consul's own DNS interface does.
 */
export function toServiceInstances(entries: unknown): ServiceInstance[] {
  if (!Array.isArray(entries)) return [];
  const byKey = new Map<string, ServiceInstance>();
  for (const raw of entries as RawEntry[]) {
    const svc = raw?.Service;
    const node = raw?.Node;
    if (!svc || typeof svc.ID !== 'string' || typeof svc.Port !== 'number') continue;
    if (!Number.isInteger(svc.Port) || svc.Port < 1 || svc.Port > 65535) continue;
    const address = typeof svc.Address === 'string' && svc.Address ? svc.Address : typeof node?.Address === 'string' ? node.Address : '';
    if (!address) continue;
    const nodeName = typeof node?.Node === 'string' ? node.Node : '';
    byKey.set(`${nodeName}/${svc.ID}`, {
      id: svc.ID,
      service: typeof svc.Service === 'string' ? svc.Service : '',
      address,
      port: svc.Port,
      tags: Array.isArray(svc.Tags) ? svc.Tags.filter((t): t is string => typeof t === 'string') : [],
      meta: isStringRecord(svc.Meta) ? svc.Meta : {},
      node: nodeName,
    });
  }
  return [...byKey.values()].sort(compareInstances);
}

function isStringRecord(v: unknown): v is Record<string, string> {
  return typeof v === 'object' && v !== null && Object.values(v).every((x) => typeof x === 'string');
}

/**
 * The order instance lists are kept in (address, port, id, node), so equal lists compare equal. Code-unit
 * order, not localeCompare: the first localeCompare of a process builds ICU's collator, ~5–10 ms of every cold start.
 */
export function compareInstances(a: ServiceInstance, b: ServiceInstance): number {
  return compareText(a.address, b.address) || a.port - b.port || compareText(a.id, b.id) || compareText(a.node, b.node);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
