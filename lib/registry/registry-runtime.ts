/**
 * What lives across warm invocations of the instance registry (the `instances`
 * function): the shared function runtime plus the instance-token signer, whose
 * key comes from the environment or SSM (REGISTRY_SIGNING_KEY[_PARAMETER]) and
 * is never logged.
 */
import type { LoadedConfig } from '../config/config-store';
import type { Log } from '../log/logger';
import { createFunctionRuntime, type FunctionRuntime } from '../runtime/function-runtime';
import { createInstanceTokenSigner, type InstanceTokenSigner } from './instance-token';
import type { RegistryDeps } from './instance-registry';
import { REGISTRY_KEYS } from './registry-config';

/** Everything a registry invocation reuses. */
export interface RegistryRuntime extends FunctionRuntime<typeof REGISTRY_KEYS> {
  /** The start of every registry invocation: secrets (once), config and lease renewal; Consul calls get `timeoutMs` each. */
  beginRegistry(timeoutMs?: number): Promise<{ deps: RegistryDeps; loaded: LoadedConfig<typeof REGISTRY_KEYS> }>;
}

/** Builds the registry runtime from the environment; throws ConfigError on a bad one. */
export function createRegistryRuntime(log: Log): RegistryRuntime {
  const base = createFunctionRuntime(REGISTRY_KEYS, log);
  let signer: InstanceTokenSigner | undefined;
  const loadSigner = async () => {
    const key = (await base.secrets.resolve('REGISTRY_SIGNING_KEY')) ?? '';
    const previous = ((await base.secrets.resolve('REGISTRY_SIGNING_KEY_PREVIOUS')) ?? '').split(',').filter(Boolean);
    return createInstanceTokenSigner(key, { previousKeys: previous });
  };
  return {
    ...base,
    async beginRegistry(timeoutMs) {
      const loaded = await base.begin();
      signer ??= await loadSigner();
      return { deps: { consul: base.consul, signer, config: loaded.values, timeoutMs }, loaded };
    },
  };
}
