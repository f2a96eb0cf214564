/** What discovery follows (a service, optionally a tag, a datacenter and failover datacenters) and pure helpers on instance lists. */
import type { ServiceInstance } from '../consul/service-instances';

/** Which instances a watch follows: service name, optional tag filter and datacenter. */
export interface ServiceQuery {
  service: string;
  tag?: string;
  datacenter?: string;
  /** Datacenters to fall back to, in order, while the first has no passing instance. */
  failover?: readonly string[];
  /** Connect-capable instances only (`/v1/health/connect/<service>`): Connect-native ones and those behind a sidecar. */
  connect?: boolean;
}

/** True when two sorted instance lists route identically (ids, addresses, ports, tags, meta). */
export function sameInstances(a: readonly ServiceInstance[], b: readonly ServiceInstance[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((x, i) => {
    const y = b[i];
    return y !== undefined && JSON.stringify(x) === JSON.stringify(y);
  });
}

/** Finds the instance behind a grpc-js peer string such as `127.0.0.1:50051` or `[::1]:50051`. */
export function instanceForPeer(instances: readonly ServiceInstance[], peer: string): ServiceInstance | undefined {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(peer.replace(/^ipv[46]:/, ''));
  if (!m) return undefined;
  const [, host, port] = m;
  return instances.find((i) => i.address === host && i.port === Number(port));
}

/** A stable key for a query, used to share one watch per query in a process. */
export function queryKey(q: ServiceQuery): string {
  return JSON.stringify([q.connect ? 'connect' : 'plain', q.service, q.tag ?? '', q.datacenter ?? '', ...(q.failover ?? [])]);
}
