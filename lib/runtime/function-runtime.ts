/**
 * What every function keeps at module scope for its execution environment: the
 * Consul client, its config store and its lease. Domain runtimes (gateway,
 * registry) build on it and hold the one instance in a clearly named variable.
 */
import { createConsulApi, type ConsulApi } from '../consul/consul-api';
import { ConfigStore, type LoadedConfig } from '../config/config-store';
import { readFunctionEnvironment, type FunctionEnvironment } from '../config/environment';
import type { ConfigValues, KeySpecs } from '../config/key-specs';
import { ConsulKvProvider } from '../config/kv-provider';
import { ExecutionLease } from '../lease/execution-lease';
import type { runtimeKeys } from './runtime-keys';
import { releaseOnSigterm } from '../lease/release-on-sigterm';
import { resolveSecret } from '../config/secrets';

/** Key sets that include the shared keys (refresh age, lease). */
export type RuntimeKeySpecs = KeySpecs & ReturnType<typeof runtimeKeys>;

/** The shared part of a function's module-scope state. */
export interface FunctionRuntime<S extends RuntimeKeySpecs> {
  env: FunctionEnvironment;
  consul: ConsulApi;
  config: ConfigStore<S>;
  lease: ExecutionLease;
  startedAt: number;
  /** Resolves the Consul token (from SSM when so configured) once per environment. */
  ready(): Promise<void>;
  /** Stops using the environment's resources (tests, shutdown). */
  close(): void;
}

/** Builds the runtime from the environment and the function's key set. */
export function createFunctionRuntime<S extends RuntimeKeySpecs>(specs: S, env: FunctionEnvironment = readFunctionEnvironment()): FunctionRuntime<S> {
  let token = env.consulToken;
  let resolving: Promise<void> | undefined;
  const consul = createConsulApi({ address: env.consulAddress, token: () => token });
  const config = new ConfigStore(new ConsulKvProvider(consul), env.configPrefix, specs, {
    maxAgeSeconds: (v) => v.configMaxAgeSeconds,
  });
  const lease = new ExecutionLease(consul);
  const stopReleasing = releaseOnSigterm(lease);
  return {
    env,
    consul,
    config,
    lease,
    startedAt: Date.now(),
    ready() {
      resolving ??= resolveSecret('CONSUL_HTTP_TOKEN').then((t) => {
        token = t;
      });
      // A failed fetch is retried by the next invocation rather than cached.
      return resolving.catch((err: unknown) => {
        resolving = undefined;
        throw err;
      });
    },
    close() {
      stopReleasing();
      consul.destroy();
    },
  };
}

/** The start of every invocation: config (read on cold start only) and the lease renewal. */
export async function beginInvocation<S extends RuntimeKeySpecs>(rt: FunctionRuntime<S>, opts: { lease?: boolean } = {}): Promise<LoadedConfig<S>> {
  await rt.ready();
  const loaded = await rt.config.get();
  const v = loaded.values as ConfigValues<RuntimeKeySpecs>;
  if (v.leaseEnabled && opts.lease !== false) await rt.lease.touch({ service: v.leaseService, ttlSeconds: v.leaseTtlSeconds, deregisterAfterSeconds: v.leaseDeregisterAfterSeconds });
  return loaded;
}
