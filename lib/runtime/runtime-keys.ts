/** The keys every function's config carries: its refresh age and its lease. */
import { intKey } from '../config/key-specs';
import { leaseKeys } from '../lease/lease-config';

/** Shared keys, with `defaultLeaseService` as the default lease service name. */
export function runtimeKeys<D extends string>(defaultLeaseService: D) {
  return {
    configMaxAgeSeconds: { schema: intKey(0, 86_400), default: 60, doc: 'Re-read K/V in the background after this age (0: never)' },
    ...leaseKeys(defaultLeaseService),
  } as const;
}
