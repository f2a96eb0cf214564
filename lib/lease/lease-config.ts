/** The lease keys every function's config carries; only the default service name differs. */
import { boolKey, enumKey, intKey, SERVICE_NAME, textKey } from '../config/key-specs';
import type { LeaseSettings } from './environment-lease';

/** Where a lease lives: `agent` (a service with a TTL check on one agent) or `session` (a server-held TTL session and a K/V key). */
export const LEASE_MODES = ['agent', 'session'] as const;

/** Lease keys with `defaultService` as the default lease service name. */
export function leaseKeys<D extends string>(defaultService: D) {
  return {
    leaseEnabled: { schema: boolKey(), default: true, doc: 'Register each execution environment in Consul with a TTL lease' },
    leaseService: {
      schema: textKey(SERVICE_NAME, 'must be a DNS-style service name'),
      default: defaultService,
      doc: 'Service name of the execution-environment leases',
    },
    leaseTtlSeconds: {
      schema: intKey(2, 3_600),
      default: 30,
      doc: "TTL of the lease check; invocations renew it at most once per third (session mode: at least 10, Consul's minimum)",
    },
    leaseDeregisterAfterSeconds: {
      schema: intKey(60, 86_400),
      default: 60,
      doc: 'Consul removes a lease this long after it turned critical (Consul minimum: 60; agent mode only)',
    },
    leaseMode: {
      schema: enumKey(LEASE_MODES),
      default: 'agent',
      doc: 'agent: a service with a TTL check on the agent that registered it (visible in the catalog); session: a TTL session held by the servers and a K/V key under leasePrefix, renewable through any agent',
    },
    leasePrefix: {
      schema: textKey(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/, 'must be a K/V path without leading or trailing slash'),
      default: 'lambda-leases',
      doc: 'Session mode: each environment holds the key <leasePrefix>/<leaseService>/<lease id>',
    },
  } as const;
}

/** The lease keys' values, as read from config. */
export interface LeaseConfigValues {
  leaseService: string;
  leaseTtlSeconds: number;
  leaseDeregisterAfterSeconds: number;
  /** Validated by the key's schema; anything but `session` is the agent mode. */
  leaseMode: string;
  leasePrefix: string;
}

/** The lease settings a runtime passes to EnvironmentLease.touch, from its config values. */
export function leaseSettingsFrom(v: LeaseConfigValues): LeaseSettings {
  return {
    service: v.leaseService,
    ttlSeconds: v.leaseTtlSeconds,
    deregisterAfterSeconds: v.leaseDeregisterAfterSeconds,
    mode: v.leaseMode === 'session' ? 'session' : 'agent',
    prefix: v.leasePrefix,
  };
}
