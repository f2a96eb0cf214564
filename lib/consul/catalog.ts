/**
 * Services on a synthetic catalog node (no agent behind it), as consul-aws and
 * consul-esm register external services: health is a catalog check whose
 * status the writer sets, and `external-source` meta marks the origin.
 */
import type { CallOptions, ConsulApi } from './consul-api';
import type { ServiceEntry } from './service-instances';

/** One external service instance on a synthetic node, with the health its writer set. */
export interface ExternalService extends ServiceEntry {
  status: 'passing' | 'critical';
}

const checkId = (serviceId: string) => `external:${serviceId}`;

/** Registers (or updates) an external service and its health on `node`. */
export async function registerExternal(
  api: ConsulApi,
  node: string,
  nodeMeta: Record<string, string>,
  svc: ExternalService,
  opts: CallOptions = {},
): Promise<void> {
  await api.call('consul.catalog.register', opts, (c, ctx) =>
    c.catalog.register({
      ctx,
      node,
      address: '127.0.0.1',
      nodemeta: nodeMeta,
      skipnodeupdate: false,
      service: { id: svc.id, service: svc.service, address: svc.address, port: svc.port, tags: svc.tags, meta: svc.meta },
      check: {
        checkid: checkId(svc.id),
        name: `external health of ${svc.service}`,
        serviceid: svc.id,
        status: svc.status,
        notes: 'set by health-sync from AWS Cloud Map',
      },
    }),
  );
}

/** Removes an external service (and its check) from `node`. */
export async function deregisterExternal(api: ConsulApi, node: string, serviceId: string, opts: CallOptions = {}): Promise<void> {
  await api.call('consul.catalog.deregister', opts, (c, ctx) => c.catalog.deregister({ ctx, node, serviceid: serviceId }));
}

interface RawNodeCheck {
  CheckID?: string;
  ServiceID?: string;
  ServiceName?: string;
  Status?: string;
}

/** The external services on `node` with their health, read from `/v1/health/node/<node>` and the catalog. */
export async function externalServices(api: ConsulApi, node: string, opts: CallOptions = {}): Promise<ExternalService[]> {
  const res = (await api.call('consul.catalog.node', opts, (c, ctx) => c.catalog.node.services({ ctx, node }))) as
    | {
        Services?: Record<
          string,
          { ID?: string; Service?: string; Address?: string; Port?: number; Tags?: string[] | null; Meta?: Record<string, string> | null }
        >;
      }
    | undefined;
  const checks = (await api.call('consul.health.node', opts, (c, ctx) => c.health.node({ ctx, node }))) as RawNodeCheck[] | undefined;
  const status = new Map(
    (checks ?? []).filter((c) => c.ServiceID).map((c) => [c.ServiceID ?? '', c.Status === 'passing' ? 'passing' : 'critical'] as const),
  );
  return Object.values(res?.Services ?? {}).map((s) => ({
    id: s.ID ?? '',
    service: s.Service ?? '',
    address: s.Address ?? '',
    port: s.Port ?? 0,
    tags: s.Tags ?? [],
    meta: s.Meta ?? {},
    status: status.get(s.ID ?? '') ?? 'critical',
  }));
}
