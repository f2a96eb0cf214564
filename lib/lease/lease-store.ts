/**
 * Where an environment lease is kept. The lease's state machine (when to renew,
 * backoff, counters) is the same for every store; a store only knows how to
 * register, renew and release in its own Consul mechanism.
 */
import type { LeaseIdentity } from './lease-identity';

/** `agent`: a service with a TTL check on one agent; `session`: a server-held TTL session and a K/V key. */
export type LeaseMode = 'agent' | 'session';

/** Lease settings, from config (`leaseSettingsFrom`). */
export interface LeaseSettings {
  service: string;
  ttlSeconds: number;
  deregisterAfterSeconds: number;
  /** Default `agent`. */
  mode?: LeaseMode;
  /** Session mode: the K/V prefix the environment's key goes under. */
  prefix?: string;
}

/** One mechanism that keeps a lease in Consul; every call is bounded by `timeoutMs`. */
export interface LeaseStore {
  readonly mode: LeaseMode;
  /** Creates the lease, passing. */
  register(identity: LeaseIdentity, settings: LeaseSettings, timeoutMs: number): Promise<void>;
  /** Renews it; when Consul answered that it no longer knows the lease, registers it again and returns true. */
  renew(identity: LeaseIdentity, settings: LeaseSettings, timeoutMs: number): Promise<boolean>;
  /** Removes it. */
  release(identity: LeaseIdentity, timeoutMs: number): Promise<void>;
  /** What /status shows beyond the common fields (the session id and key). */
  details(): Record<string, string>;
}
