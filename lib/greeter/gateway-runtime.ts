/**
 * The module-scope state of the greeter gateway, in one place: the shared
 * function runtime (Consul client, config, lease) plus the discovery watches
 * and the gRPC channels. Created on the first invocation of an execution
 * environment and reused by every warm invocation after it.
 */
import { consulHealthSource } from '../consul/health';
import { ServiceWatchRegistry } from '../consul/service-watch-registry';
import type { LoadedConfig } from '../config/config-store';
import { CONFIG_KEYS } from '../config/schema';
import { GreeterClientPool } from '../grpc/greeter-client-pool';
import { registerConsulResolver } from '../grpc/resolver-consul';
import { beginInvocation as begin, createFunctionRuntime, type FunctionRuntime } from '../runtime/function-runtime';

/** Everything a greet invocation reuses. */
export interface GatewayRuntime extends FunctionRuntime<typeof CONFIG_KEYS> {
  watches: ServiceWatchRegistry;
  clients: GreeterClientPool;
}

let gateway: GatewayRuntime | undefined;

/** The runtime of this execution environment, created on first use. */
export function gatewayRuntime(): GatewayRuntime {
  if (gateway) return gateway;
  const base = createFunctionRuntime(CONFIG_KEYS);
  const watches = new ServiceWatchRegistry(consulHealthSource(base.consul), () => {
    const v = base.config.current()?.values;
    return { waitSeconds: v?.discoveryWaitSeconds ?? 30, minIntervalMs: v?.discoveryMinIntervalMs ?? 500, backoffBaseMs: 250, backoffMaxMs: 10_000 };
  });
  registerConsulResolver(watches);
  gateway = { ...base, watches, clients: new GreeterClientPool() };
  return gateway;
}

/** The start of every gateway invocation: config and lease renewal. */
export async function beginInvocation(): Promise<{ rt: GatewayRuntime; loaded: LoadedConfig<typeof CONFIG_KEYS> }> {
  const rt = gatewayRuntime();
  return { rt, loaded: await begin(rt) };
}

/** Stops polls and closes channels; the next invocation starts cold (tests, shutdown). */
export function resetGatewayRuntime(): void {
  if (!gateway) return;
  gateway.watches.stopAll();
  gateway.clients.closeAll();
  gateway.close();
  gateway = undefined;
}
