/** Turning the registry's config into validation policies (pure). */
import { SERVICE_NAME } from '../config/key-specs';
import { createAddressPolicy } from './address-policy';
import { RegistryError } from './errors';
import type { RegistryConfig } from './registry-config';
import type { RegistrationPolicy } from './registration-request';
import { serviceNameProblem } from './service-names';

const cache = new WeakMap<RegistryConfig, RegistrationPolicy>();

/** The registration policy for a config (memoised per config object: built once per change). */
export function policyFromConfig(cfg: RegistryConfig): RegistrationPolicy {
  let policy = cache.get(cfg);
  if (!policy) {
    policy = {
      allowedServicePrefixes: cfg.allowedServicePrefixes,
      allowedServices: cfg.allowedServices,
      protectedServices: cfg.protectedServices,
      address: createAddressPolicy({
        allowedCidrs: cfg.allowedCidrs,
        allowLoopback: cfg.allowLoopback,
        allowLinkLocal: cfg.allowLinkLocal,
        allowMetadata: cfg.allowMetadataAddress,
      }),
      ttlSeconds: ttlBounds(cfg),
    };
    cache.set(cfg, policy);
  }
  return policy;
}

/** TTL bounds that always make sense, whatever combination of valid keys K/V holds. */
function ttlBounds(cfg: RegistryConfig): { min: number; max: number; default: number } {
  const min = Math.min(cfg.ttlMinSeconds, cfg.ttlMaxSeconds);
  const max = Math.max(cfg.ttlMinSeconds, cfg.ttlMaxSeconds);
  return { min, max, default: Math.min(max, Math.max(min, cfg.ttlDefaultSeconds)) };
}

/** The `service` query parameter of a list request: required, well-formed, a name the API may register. */
export function listQuery(service: string | undefined, cfg: RegistryConfig): string {
  if (!service) throw new RegistryError('invalid_request', 'query parameter service is required');
  if (!SERVICE_NAME.test(service)) throw new RegistryError('invalid_request', 'service must be a DNS-style name');
  // The same names as registration: the API shows no service it could not register (a routed one, a lease).
  const refused = serviceNameProblem(service, cfg);
  if (refused) throw new RegistryError('invalid_request', refused);
  return service;
}
