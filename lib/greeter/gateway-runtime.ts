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
import { isMainThread } from 'node:worker_threads';
import type { LoadedConfig } from '../config/config-store';
import { CONFIG_KEYS } from '../config/schema';
import { GreeterClientPool } from '../grpc/greeter-client-pool';
import { registerConsulResolver } from '../grpc/resolver-consul';
import { ExecutionLease } from '../lease/execution-lease';
import { errorSummary, logger } from '../log/logger';

/** Everything a greet invocation reuses. */
export interface GatewayRuntime {
  env: FunctionEnvironment;
  consul: ConsulApi;
  config: ConfigStore<typeof CONFIG_KEYS>;
  watches: ServiceWatchRegistry;
  clients: GreeterClientPool;
  lease: ExecutionLease;
  startedAt: number;
}

let runtime: GatewayRuntime | undefined;

/** Lambda sends SIGTERM before reaping an environment (when an extension is present); it allows ~300 ms. */
const RELEASE_ON_SIGTERM_MS = 250;
function onSigterm(): void {
  const lease = runtime?.lease;
  void (lease ? lease.release(RELEASE_ON_SIGTERM_MS) : Promise.resolve())
    .catch((err: unknown) => logger.warn('lease release on SIGTERM failed', { error: errorSummary(err) }))
    .finally(() => process.exit(0));
}

/** The runtime of this execution environment, created on first use. */
export function gatewayRuntime(): GatewayRuntime {
  if (runtime) return runtime;
  const env = readFunctionEnvironment();
  const consul = createConsulApi({ address: env.consulAddress, token: env.consulToken });
  const config = new ConfigStore(new ConsulKvProvider(consul), env.configPrefix, CONFIG_KEYS, {
    maxAgeSeconds: (v) => (typeof v.configMaxAgeSeconds === 'number' ? v.configMaxAgeSeconds : 0),
  });
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
  runtime = { env, consul, config, watches, clients: new GreeterClientPool(), lease: new ExecutionLease(consul), startedAt: Date.now() };
  // Signals reach only the main thread (serverless-offline runs handlers in workers).
  if (isMainThread) process.once('SIGTERM', onSigterm);
  return runtime;
}

/** The start of every invocation: config (read on cold start only) and the lease renewal. */
export async function beginInvocation(): Promise<{ rt: GatewayRuntime; loaded: LoadedConfig<typeof CONFIG_KEYS> }> {
  const rt = gatewayRuntime();
  const loaded = await rt.config.get();
  const v = loaded.values;
  if (v.leaseEnabled) await rt.lease.touch({ service: v.leaseService, ttlSeconds: v.leaseTtlSeconds, deregisterAfterSeconds: v.leaseDeregisterAfterSeconds });
  return { rt, loaded };
}

/** Stops polls and closes channels; the next invocation starts cold (tests, shutdown). */
export function resetGatewayRuntime(): void {
  if (!runtime) return;
  process.off('SIGTERM', onSigterm);
  runtime.watches.stopAll();
  runtime.clients.closeAll();
  runtime.consul.destroy();
  runtime = undefined;
}
