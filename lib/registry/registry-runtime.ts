/**
 * The module-scope state of the instance registry: the shared function runtime
 * plus the lease-token signer, whose key comes from the environment or SSM
 * (REGISTRY_SIGNING_KEY[_PARAMETER]) and is never logged.
 */
import type { LoadedConfig } from '../config/config-store';
import { resolveSecret } from '../config/secrets';
import { beginInvocation as begin, createFunctionRuntime, type FunctionRuntime } from '../runtime/function-runtime';
import { createLeaseSigner, type LeaseSigner } from './lease-token';
import { REGISTRY_KEYS } from './registry-config';

/** Everything a registry invocation reuses. */
export interface RegistryRuntime extends FunctionRuntime<typeof REGISTRY_KEYS> {
  signer?: LeaseSigner;
}

let registry: RegistryRuntime | undefined;

/** The runtime of this execution environment, created on first use. */
function registryRuntime(): RegistryRuntime {
  registry ??= createFunctionRuntime(REGISTRY_KEYS);
  return registry;
}

async function signer(rt: RegistryRuntime): Promise<LeaseSigner> {
  if (rt.signer) return rt.signer;
  const key = (await resolveSecret('REGISTRY_SIGNING_KEY')) ?? '';
  const previous = ((await resolveSecret('REGISTRY_SIGNING_KEY_PREVIOUS')) ?? '').split(',').filter(Boolean);
  rt.signer = createLeaseSigner(key, { previousKeys: previous });
  return rt.signer;
}

/** The start of every registry invocation: secrets, config and lease renewal. */
export async function beginRegistryInvocation(): Promise<{ rt: RegistryRuntime; signer: LeaseSigner; loaded: LoadedConfig<typeof REGISTRY_KEYS> }> {
  const rt = registryRuntime();
  const loaded = await begin(rt);
  return { rt, signer: await signer(rt), loaded };
}
