/**
 * Pure mapping of SRV answers and their targets' addresses into the instances a watch
 * serves, and the refresh timing that follows from the answers' TTL.
 */
import { compareInstances, type ServiceInstance } from '../consul/service-instances';
import { nodeOfTarget } from './srv-names';
import type { ServiceQuery } from './service-query';

/** One SRV record (what Node's resolveSrv gives). */
export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

/** One A/AAAA answer with its TTL in seconds (Node's resolve4/resolve6 with `{ ttl: true }`). */
export interface AddressRecord {
  address: string;
  ttl: number;
}

/**
 * Instances for `query` from its SRV records and each target's addresses. DNS carries no
 * service id, so the id is `<address>:<port>` (`[v6]:<port>`); tags are the one asked for,
 * meta is empty. Priority and weight are not used: Consul gives every instance the same.
 * Deduplicated by id and sorted like toServiceInstances, so equal lists compare equal.
 */
export function toDnsInstances(
  query: ServiceQuery,
  records: readonly SrvRecord[],
  addresses: ReadonlyMap<string, readonly AddressRecord[]>,
): ServiceInstance[] {
  const byId = new Map<string, ServiceInstance>();
  for (const r of records) {
    if (!Number.isInteger(r.port) || r.port < 1 || r.port > 65535) continue;
    for (const a of addresses.get(r.name) ?? []) {
      const id = `${a.address.includes(':') ? `[${a.address}]` : a.address}:${r.port}`;
      byId.set(id, {
        id,
        service: query.service,
        address: a.address,
        port: r.port,
        tags: query.tag ? [query.tag] : [],
        meta: {},
        node: nodeOfTarget(r.name),
      });
    }
  }
  return [...byId.values()].sort(compareInstances);
}

/** The smallest TTL (seconds) among the addresses, or undefined when there are none. */
export function answerTtlSeconds(addresses: ReadonlyMap<string, readonly AddressRecord[]>): number | undefined {
  let min: number | undefined;
  for (const list of addresses.values()) for (const a of list) min = min === undefined ? a.ttl : Math.min(min, a.ttl);
  return min;
}

/** Bounds of the refresh timing. */
export interface RefreshTiming {
  minRefreshMs: number;
  maxRefreshMs: number;
  /** Refresh of an answer with no record (no TTL to follow). */
  emptyRefreshMs: number;
  /** Each delay is lengthened by random × jitterMs (never shortened, so a cache upstream has expired). */
  jitterMs: number;
}

/**
 * When to resolve again after an answer whose TTL is `ttlSeconds` (undefined: no record), with
 * `random` in [0, 1). A cache counts TTLs down in whole seconds, so an answer of TTL t expires
 * within [t, t + 1) s: a lookup at t + random × 1 s lands after the expiry or, if before, gets an
 * answer of TTL 0 and looks again minRefreshMs (1 s) later. Either way the first fresh answer
 * comes less than a second after the cache expired: a change is served within TTL + 1 s.
 */
export function refreshDelayMs(ttlSeconds: number | undefined, timing: RefreshTiming, random: number): number {
  const base = ttlSeconds === undefined ? timing.emptyRefreshMs : ttlSeconds * 1000;
  const delay = base + Math.max(0, timing.jitterMs) * random;
  return Math.round(Math.min(timing.maxRefreshMs, Math.max(timing.minRefreshMs, delay)));
}
