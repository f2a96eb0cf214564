/**
 * The module-scope state of the instance registry: the shared function runtime
 * plus the lease-token signer, whose key comes from the environment (SSM when
 * deployed) and is never logged.
 */
import type { LoadedConfig } from '../config/config-store';
import { beginInvocation as begin, createFunctionRuntime, type FunctionRuntime } from '../runtime/function-runtime';
import { createLeaseSigner } from './lease-token';
import { REGISTRY_KEYS } from './registry-config';

/** Everything a registry invocation reuses. */
export interface RegistryRuntime extends FunctionRuntime<typeof REGISTRY_KEYS> {
  signer: ReturnType<typeof createLeaseSigner>;
}

let registry: RegistryRuntime | undefined;

/** The runtime of this execution environment, created on first use. */
export function registryRuntime(): RegistryRuntime {
  if (registry) return registry;
  const key = process.env.REGISTRY_SIGNING_KEY ?? '';
  const previous = (process.env.REGISTRY_SIGNING_KEY_PREVIOUS ?? '').split(',').filter(Boolean);
  const signer = createLeaseSigner(key, { previousKeys: previous });
  registry = { ...createFunctionRuntime(REGISTRY_KEYS), signer };
  return registry;
}

/** The start of every registry invocation: config and lease renewal. */
export async function beginRegistryInvocation(): Promise<{ rt: RegistryRuntime; loaded: LoadedConfig<typeof REGISTRY_KEYS> }> {
  const rt = registryRuntime();
  return { rt, loaded: await begin(rt) };
}

/** Forgets the runtime; the next invocation starts cold (tests). */
export function resetRegistryRuntime(): void {
  registry?.close();
  registry = undefined;
}
