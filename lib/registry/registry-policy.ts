/** Turning the registry's config into validation policies (pure). */
import { SERVICE_NAME } from '../config/key-specs';
import { createAddressPolicy } from './address-policy';
import { RegistryError } from './errors';
import type { RegistryConfig } from './registry-config';
import type { RegistrationPolicy } from './registration-request';

const cache = new WeakMap<RegistryConfig, RegistrationPolicy>();

/** The registration policy for a config (memoised per config object: built once per change). */
export function policyFromConfig(cfg: RegistryConfig): RegistrationPolicy {
  let policy = cache.get(cfg);
  if (!policy) {
    policy = {
      allowedServicePrefixes: cfg.allowedServicePrefixes,
      address: createAddressPolicy({ allowedCidrs: cfg.allowedCidrs, allowLoopback: cfg.allowLoopback, allowLinkLocal: cfg.allowLinkLocal, allowMetadata: cfg.allowMetadataAddress }),
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

/** The `service` query parameter of a list request: required, well-formed, inside the allowed prefixes. */
export function listQuery(service: string | undefined, cfg: RegistryConfig): string {
  if (!service) throw new RegistryError('invalid_request', 'query parameter service is required');
  if (!SERVICE_NAME.test(service)) throw new RegistryError('invalid_request', 'service must be a DNS-style name');
  if (!cfg.allowedServicePrefixes.some((p) => service.startsWith(p))) throw new RegistryError('invalid_request', `service must start with one of: ${cfg.allowedServicePrefixes.join(', ')}`);
  return service;
}
