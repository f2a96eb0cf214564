/** The keys every function's config carries: the store's refresh age and the environment lease. */
import { CONFIG_STORE_KEYS } from '../config/config-store';
import { leaseKeys } from '../lease/lease-config';

/** Shared keys, with `defaultLeaseService` as the default lease service name. */
export function runtimeKeys<D extends string>(defaultLeaseService: D) {
  return { ...CONFIG_STORE_KEYS, ...leaseKeys(defaultLeaseService) } as const;
}
