/** The lease keys every function's config carries; only the default service name differs. */
import * as z from 'zod';
import { boolKey, intKey, SERVICE_NAME } from '../config/key-specs';

/** Lease keys with `defaultService` as the default lease service name. */
export function leaseKeys<D extends string>(defaultService: D) {
  return {
    leaseEnabled: { schema: boolKey(), default: true, doc: 'Register each execution environment in Consul with a TTL lease' },
    leaseService: { schema: z.string().trim().regex(SERVICE_NAME, 'must be a DNS-style service name'), default: defaultService, doc: 'Service name of the execution-environment leases' },
    leaseTtlSeconds: { schema: intKey(2, 3_600), default: 30, doc: 'TTL of the lease check; invocations renew it at most once per third' },
    leaseDeregisterAfterSeconds: { schema: intKey(60, 86_400), default: 60, doc: 'Consul removes a lease this long after it turned critical (Consul minimum: 60)' },
  } as const;
}
