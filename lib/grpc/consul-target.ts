/** Pure mapping between a ServiceQuery and a `consul:` gRPC target string. */
import type { ServiceQuery } from '../discovery/service-query';
import { GrpcTargetError } from './errors';

/**
 * The gRPC target for a query, e.g. `consul:///greeter?tag=v1&dc=dc2&failover=dc3,dc4` (`&connect=1`: Connect-capable
 * instances; `&tls=<name>`: TLS channels that verify `name`, so that they never share a channel with plaintext ones).
 */
export function consulTarget(q: ServiceQuery, transport: { tlsServerName?: string } = {}): string {
  if (transport.tlsServerName) return targetOf(q, transport.tlsServerName);
  // Every warm call asks for its query's target: kept per query object (queries are never changed once made).
  let target = plainTargets.get(q);
  if (target === undefined) plainTargets.set(q, (target = targetOf(q, undefined)));
  return target;
}

const plainTargets = new WeakMap<ServiceQuery, string>();

function targetOf(q: ServiceQuery, tlsServerName: string | undefined): string {
  const params = new URLSearchParams();
  if (q.tag) params.set('tag', q.tag);
  if (q.datacenter) params.set('dc', q.datacenter);
  if (q.failover?.length) params.set('failover', q.failover.join(','));
  if (q.connect) params.set('connect', '1');
  if (tlsServerName) params.set('tls', tlsServerName);
  const qs = params.toString();
  return `consul:///${encodeURIComponent(q.service)}${qs ? `?${qs}` : ''}`;
}

/** Parses the path part grpc-js hands a resolver (`greeter?tag=v1`) back into a query. */
export function parseConsulTargetPath(path: string): ServiceQuery {
  const [name = '', qs = ''] = path.replace(/^\/+/, '').split('?', 2);
  const service = decodeURIComponent(name);
  if (!service) throw new GrpcTargetError(`consul target "${path}" names no service`);
  const params = new URLSearchParams(qs);
  const tag = params.get('tag') || undefined;
  const datacenter = params.get('dc') || undefined;
  const failover = (params.get('failover') ?? '').split(',').filter(Boolean);
  const connect = params.get('connect') === '1';
  return {
    service,
    ...(tag ? { tag } : {}),
    ...(datacenter ? { datacenter } : {}),
    ...(failover.length ? { failover } : {}),
    ...(connect ? { connect } : {}),
  };
}
