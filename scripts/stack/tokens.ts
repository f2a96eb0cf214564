/**
 * The least-privilege tokens of the stack's parts, each made the one way (acl/policies/*.hcl through
 * provisionToken): the gateway's, a Greeter backend's, the rpc function's, an Echo backend's, the
 * instance registry's, the health-sync job's, and the Consul agents' own (agent and DNS). The local stack, the tests, the chaos run and the benches ask here instead of repeating
 * which policies make up each token and which values fill their placeholders.
 */
import type { ConsulApi } from '../../lib/consul/consul-api';
import { healthSyncPolicies, provisionToken, registryPolicies, type PolicyRef } from './acl-admin';

/** How the gateway's token may hold a lease: a registered TTL service, a session, both, or none (read-only). */
export type GatewayLease = 'agent' | 'session' | 'both' | 'none';

/** Where the gateway reads its config and finds the Greeter, and where its lease lives. */
export interface GatewayScope {
  configPrefix: string;
  greeterService?: string;
  /** The service (agent mode) or key folder (session mode) of the lease. */
  leaseService?: string;
  /** Session mode: the K/V folder of the lease keys. */
  leasePrefix?: string;
  lease?: GatewayLease;
}

const LEASE_POLICIES: Record<GatewayLease, string[]> = {
  agent: ['greeter-gateway-lease'],
  session: ['greeter-gateway-lease-session'],
  both: ['greeter-gateway-lease', 'greeter-gateway-lease-session'],
  none: [],
};

/** The gateway's token (greet and status): read its config and the Greeter's health, write its lease (`lease`, default agent). */
export async function gatewayToken(admin: ConsulApi, scope: GatewayScope): Promise<string> {
  const params = {
    configPrefix: scope.configPrefix,
    greeterService: scope.greeterService ?? 'greeter',
    leaseService: scope.leaseService ?? 'greeter-gateway-lambda',
    leasePrefix: scope.leasePrefix ?? 'lambda-leases',
    // Every agent's node: the functions may reach any of them.
    agentNodePrefix: '',
  };
  return provisionToken(admin, ['greeter-gateway', ...LEASE_POLICIES[scope.lease ?? 'agent']], params);
}

/** A Greeter backend's token: register and deregister itself as `greeterService`. */
export async function backendToken(admin: ConsulApi, greeterService = 'greeter'): Promise<string> {
  return provisionToken(admin, 'greeter-backend', { greeterService });
}

/** The two tokens of a gateway stack: the gateway's (lease mode `lease`, default agent) and the Greeter backends'. */
export async function gatewayTokens(
  admin: ConsulApi,
  configPrefix: string,
  lease: GatewayLease = 'agent',
): Promise<{ gatewayToken: string; backendToken: string }> {
  return { gatewayToken: await gatewayToken(admin, { configPrefix, lease }), backendToken: await backendToken(admin) };
}

/** The rpc function's lease service, which is also the Connect identity it presents. */
export const RPC_LEASE_SERVICE = 'rpc-gateway-lambda';

/**
 * The rpc function's token: read its config under `configPrefix`, discover each of `services` (one
 * rpc-gateway-service policy per Consul service, as a deployment grants them), and hold its agent lease
 * (which also gives it its Connect identity).
 */
export function rpcToken(admin: ConsulApi, configPrefix: string, services: readonly string[]): Promise<string> {
  return provisionToken(
    admin,
    [
      // Named per prefix: tokens of stacks that share a Consul (tests) each read their own config only.
      { name: `rpc-gateway-${configPrefix.replace(/[^a-z0-9]+/g, '-').replace(/-+$/, '')}`, template: 'rpc-gateway', params: {} },
      ...services.map((s) => ({ name: `rpc-gateway-service-${s}`, template: 'rpc-gateway-service', params: { service: s } })),
      { name: 'rpc-gateway-lease', template: 'greeter-gateway-lease', params: {} },
    ],
    { configPrefix, leaseService: RPC_LEASE_SERVICE },
  );
}

/** A backend token for any of `services` (Echo and the like): register itself, fetch its Connect leaf, authorize callers. */
export function echoBackendToken(admin: ConsulApi, services: readonly string[] = ['echo']): Promise<string> {
  return provisionToken(
    admin,
    services.map((s) => ({ name: `echo-backend-${s}`, template: 'greeter-backend', params: { greeterService: s } })),
    {},
  );
}

/** A scheduled or API job's token: its config under `configPrefix`, its lease service, and `policies`. */
function jobToken(admin: ConsulApi, leaseService: string, configPrefix: string, policies: PolicyRef[]): Promise<string> {
  return provisionToken(admin, policies, { configPrefix, leaseService });
}

/** The instance registry's token: its config under `configPrefix`, its lease, and `policies` (default: the `ephemeral-` prefix). */
export const registryToken = (admin: ConsulApi, configPrefix: string, policies = registryPolicies(['ephemeral-'])): Promise<string> =>
  jobToken(admin, 'instance-registry-lambda', configPrefix, policies);

/** The health-sync job's token: its config under `configPrefix`, its lease, and `policies` (default: probes under `ephemeral-`). */
export const healthSyncToken = (admin: ConsulApi, configPrefix: string, policies = healthSyncPolicies(['ephemeral-'])): Promise<string> =>
  jobToken(admin, 'health-sync-lambda', configPrefix, policies);

/** A Consul agent's own token (acl.tokens.agent): write its node, read services. */
export const agentToken = (admin: ConsulApi, nodeName: string): Promise<string> =>
  provisionToken(admin, { name: `consul-agent-${nodeName}`, template: 'consul-agent', params: { nodeName } }, {});

/** The default token of agents whose DNS interface serves discovery: read services and nodes. */
export const dnsToken = (admin: ConsulApi): Promise<string> => provisionToken(admin, 'consul-dns', {});
