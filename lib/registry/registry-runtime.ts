/**
 * What lives across warm invocations of the instance registry (the `instances`
 * function): the shared function runtime plus the instance-token signer, whose
 * key comes from the environment or SSM (REGISTRY_SIGNING_KEY[_PARAMETER]) and
 * is never logged. State only: the use case (instances-api.ts) starts each
 * invocation and decides what to do with it.
 */
import type { Log } from '../log/logger';
import { createFunctionRuntime, type FunctionRuntime } from '../runtime/function-runtime';
import { createInstanceTokenSigner, type InstanceTokenSigner } from './instance-token';
import { REGISTRY_KEYS } from './registry-config';

/** Everything a registry invocation reuses. */
export interface RegistryRuntime extends FunctionRuntime<typeof REGISTRY_KEYS> {
  /** The instance-token signer, its keys resolved once per environment (a failed resolution is tried again next time). */
  signer(): Promise<InstanceTokenSigner>;
}

/** Builds the registry runtime from the environment; throws ConfigError on a bad one. */
export function createRegistryRuntime(log: Log): RegistryRuntime {
  const base = createFunctionRuntime(REGISTRY_KEYS, log);
  let signer: Promise<InstanceTokenSigner> | undefined;
  const loadSigner = async () => {
    const key = (await base.secrets.resolve('REGISTRY_SIGNING_KEY')) ?? '';
    const previous = ((await base.secrets.resolve('REGISTRY_SIGNING_KEY_PREVIOUS')) ?? '').split(',').filter(Boolean);
    return createInstanceTokenSigner(key, { previousKeys: previous });
  };
  return {
    ...base,
    signer() {
      signer ??= loadSigner().catch((err: unknown) => {
        signer = undefined;
        throw err;
      });
      return signer;
    },
  };
}
