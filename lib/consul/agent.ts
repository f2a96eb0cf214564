/** Consul agent endpoints: services with a TTL check (leases, registered instances) or an agent-run gRPC check (backends). */
import type { CallOptions, ConsulApi } from './consul-api';
import type { ServiceEntry } from './service-instances';

/** A service registration on the local agent with one TTL check. */
export interface TtlServiceRegistration {
  id: string;
  name: string;
  address?: string;
  port?: number;
  tags?: string[];
  meta?: Record<string, string>;
  /** Check TTL, e.g. `30s`. */
  ttl: string;
  /** Consul removes the service this long after its check turned critical (minimum `1m`). */
  deregisterCriticalServiceAfter: string;
  /** Status the check starts in. */
  initialStatus?: 'passing' | 'critical';
  notes?: string;
}

/** The check id Consul gives the single check of a service registered with `Check`. */
export function serviceCheckId(serviceId: string): string {
  return `service:${serviceId}`;
}

/** Registers (or replaces) a service and its TTL check on the agent. */
export async function registerTtlService(api: ConsulApi, reg: TtlServiceRegistration, opts: CallOptions = {}): Promise<void> {
  await api.call('consul.agent.service.register', opts, (client, ctx) =>
    client.agent.service.register({
      ctx,
      id: reg.id,
      name: reg.name,
      ...(reg.address !== undefined ? { address: reg.address } : {}),
      ...(reg.port !== undefined ? { port: reg.port } : {}),
      tags: reg.tags ?? [],
      meta: reg.meta ?? {},
      check: {
        ttl: reg.ttl,
        status: reg.initialStatus ?? 'passing',
        deregistercriticalserviceafter: reg.deregisterCriticalServiceAfter,
        ...(reg.notes ? { notes: reg.notes } : {}),
      },
    }),
  );
}

/** A service registration whose health the agent checks itself over grpc.health.v1. */
export interface GrpcServiceRegistration {
  id: string;
  name: string;
  address: string;
  port: number;
  tags?: string[];
  meta?: Record<string, string>;
  /** `host:port` the agent dials for the check. */
  grpc: string;
  /**
   * Connect-native (`Connect.Native = true`): the service serves mTLS with its own leaf certificate and
   * requires client certificates, which the agent's gRPC check cannot present, so the check is TCP instead.
   */
  connectNative?: boolean;
  /**
   * The service serves gRPC over TLS: the check speaks TLS to it, verifying `serverName` only when
   * `verify` is set. An agent verifies check certificates against its own CA only with
   * `enable_agent_tls_for_checks`; without it the check trusts only the system roots, which a private CA is not in.
   */
  tls?: { serverName: string; verify: boolean };
  /** Consul durations, e.g. `1s`. */
  interval: string;
  timeout: string;
  deregisterCriticalServiceAfter: string;
}

/** Registers (or replaces) a service and its gRPC health check (TCP when Connect-native) on the agent. */
export async function registerGrpcService(api: ConsulApi, reg: GrpcServiceRegistration, opts: CallOptions = {}): Promise<void> {
  await api.call('consul.agent.service.register', opts, (client, ctx) =>
    client.agent.service.register({
      ctx,
      id: reg.id,
      name: reg.name,
      address: reg.address,
      port: reg.port,
      tags: reg.tags ?? [],
      meta: reg.meta ?? {},
      ...(reg.connectNative ? { connect: { native: true } } : {}),
      check: reg.connectNative
        ? {
            name: `TCP check of ${reg.id} (Connect-native mTLS)`,
            tcp: reg.grpc,
            interval: reg.interval,
            timeout: reg.timeout,
            deregistercriticalserviceafter: reg.deregisterCriticalServiceAfter,
          }
        : {
            name: `gRPC health of ${reg.id}`,
            grpc: reg.grpc,
            grpcusetls: Boolean(reg.tls),
            ...(reg.tls ? { tlsservername: reg.tls.serverName, tlsskipverify: !reg.tls.verify } : {}),
            interval: reg.interval,
            timeout: reg.timeout,
            deregistercriticalserviceafter: reg.deregisterCriticalServiceAfter,
          },
    }),
  );
}

/** Removes a service (and its checks) from the agent. */
export async function deregisterService(api: ConsulApi, id: string, opts: CallOptions = {}): Promise<void> {
  await api.call('consul.agent.service.deregister', opts, (client, ctx) => client.agent.service.deregister({ ctx, id }));
}

/** Sets a TTL check to passing (renews it) or critical, with a note that says why. */
export async function updateTtlCheck(
  api: ConsulApi,
  checkId: string,
  state: 'pass' | 'fail',
  note: string,
  opts: CallOptions = {},
): Promise<void> {
  await api.call(`consul.agent.check.${state}`, opts, (client, ctx) => client.agent.check[state]({ ctx, id: checkId, note }));
}

/** A service as the local agent knows it. */
export type AgentService = ServiceEntry;

type RawAgentService = {
  ID?: string;
  Service?: string;
  Address?: string;
  Port?: number;
  Tags?: string[] | null;
  Meta?: Record<string, string> | null;
};

/** The agent's services matching a filter expression (only those the token may read). */
export async function agentServices(api: ConsulApi, filter: string, opts: CallOptions = {}): Promise<AgentService[]> {
  const res = (await api.call('consul.agent.service.list', opts, (client, ctx) => client.agent.service.list({ ctx, filter }))) as
    Record<string, RawAgentService> | undefined;
  return Object.values(res ?? {}).map((raw) => ({
    id: raw.ID ?? '',
    service: raw.Service ?? '',
    address: raw.Address ?? '',
    port: raw.Port ?? 0,
    tags: raw.Tags ?? [],
    meta: raw.Meta ?? {},
  }));
}

/** The agent's registration of service `id`, or undefined if it has none (or the token may not read it). */
export async function agentService(api: ConsulApi, id: string, opts: CallOptions = {}): Promise<AgentService | undefined> {
  if (!/^[A-Za-z0-9_.:-]+$/.test(id)) return undefined; // keeps the filter expression well-formed
  return (await agentServices(api, `ID == "${id}"`, opts)).find((s) => s.id === id);
}
