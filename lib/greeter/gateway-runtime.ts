/**
 * The module-scope state of the greeter gateway, in one place: the Consul
 * client, the config store, the discovery watches and the gRPC channels.
 * Created on the first invocation of an execution environment and reused by
 * every warm invocation after it.
 */
import { createConsulApi, type ConsulApi } from '../consul/consul-api';
import { consulHealthSource } from '../consul/health';
import { ServiceWatchRegistry } from '../consul/service-watch-registry';
import { ConfigStore } from '../config/config-store';
import { readFunctionEnvironment, type FunctionEnvironment } from '../config/environment';
import { ConsulKvProvider } from '../config/kv-provider';
import { GreeterClientPool } from '../grpc/greeter-client-pool';
import { registerConsulResolver } from '../grpc/resolver-consul';

/** Everything a greet invocation reuses. */
export interface GatewayRuntime {
  env: FunctionEnvironment;
  consul: ConsulApi;
  config: ConfigStore;
  watches: ServiceWatchRegistry;
  clients: GreeterClientPool;
  startedAt: number;
}

let runtime: GatewayRuntime | undefined;

/** The runtime of this execution environment, created on first use. */
export function gatewayRuntime(): GatewayRuntime {
  if (runtime) return runtime;
  const env = readFunctionEnvironment();
  const consul = createConsulApi({ address: env.consulAddress, token: env.consulToken });
  const config = new ConfigStore(new ConsulKvProvider(consul), env.configPrefix);
  const watches = new ServiceWatchRegistry(consulHealthSource(consul), () => {
    const v = config.current()?.values;
    return {
      waitSeconds: v?.discoveryWaitSeconds ?? 30,
      minIntervalMs: v?.discoveryMinIntervalMs ?? 500,
      backoffBaseMs: 250,
      backoffMaxMs: 10_000,
    };
  });
  registerConsulResolver(watches);
  runtime = { env, consul, config, watches, clients: new GreeterClientPool(), startedAt: Date.now() };
  return runtime;
}

/** Stops polls and closes channels; the next invocation starts cold (tests, shutdown). */
export function resetGatewayRuntime(): void {
  if (!runtime) return;
  runtime.watches.stopAll();
  runtime.clients.closeAll();
  runtime.consul.destroy();
  runtime = undefined;
}
