/** The instance registry's configuration keys (the `instances` function). */
import * as z from 'zod';
import { boolKey, intKey, listKey, SERVICE_NAME, type ConfigValues, type KeySpecs } from '../config/key-specs';
import { runtimeKeys } from '../runtime/runtime-keys';
import { createAddressPolicy } from './address-policy';

// A prefix ends at a word boundary (its last character is -): `greeter` would also admit
// `greeter` itself, `greeter-gateway-lambda` and `greeterx`; `ephemeral-` admits only `ephemeral-…`.
const prefix = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,61}-$/, 'each prefix must be lower-case letters, digits and -, and end with - (a word boundary)');
const service = z.string().regex(SERVICE_NAME, 'each service must be a DNS-style name (lower-case letters, digits and -)');
// Checked by building a policy from it, so a value that passes here also works at run time.
const cidr = z.string().refine((c) => {
  try {
    createAddressPolicy({ allowedCidrs: [c] });
    return true;
  } catch {
    return false;
  }
}, 'each entry must be a CIDR such as 10.0.0.0/8');

/** Registry keys, with safe defaults: private ranges only, nothing special-purpose. */
export const REGISTRY_KEYS = {
  allowedServicePrefixes: {
    schema: listKey(prefix, 'prefix', 1, 32),
    default: ['ephemeral-'],
    doc: 'Service names a workload may register must start with one of these; each ends with - (comma list)',
  },
  allowedServices: {
    schema: listKey(service, 'service', 0, 32),
    default: [] as string[],
    doc: 'Exact service names a workload may register besides the prefixes; the only way to open a protected name (comma list)',
  },
  protectedServices: {
    schema: listKey(service, 'service', 0, 32),
    default: ['greeter'],
    doc: "Services that take traffic (the gateway's greeterService): never registrable by prefix, only through allowedServices (comma list); names ending in -lambda (leases) always are",
  },
  allowedCidrs: {
    schema: listKey(cidr, 'CIDR', 1, 32),
    default: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'],
    doc: 'Instance addresses must fall in one of these (comma list)',
  },
  allowLoopback: {
    schema: boolKey(),
    default: false,
    doc: 'Lift the ban on 127.0.0.0/8 and ::1; the address must still be inside allowedCidrs (local stack and tests only)',
  },
  allowLinkLocal: { schema: boolKey(), default: false, doc: 'Allow 169.254.0.0/16 and fe80::/10' },
  allowMetadataAddress: { schema: boolKey(), default: false, doc: 'Allow the instance-metadata address 169.254.169.254' },
  ttlMinSeconds: { schema: intKey(5, 86_400), default: 10, doc: 'Shortest lease TTL a workload may ask for' },
  ttlMaxSeconds: { schema: intKey(5, 86_400), default: 3_600, doc: 'Longest lease TTL a workload may ask for' },
  ttlDefaultSeconds: { schema: intKey(5, 86_400), default: 60, doc: 'Lease TTL when the request names none' },
  deregisterAfterSeconds: {
    schema: intKey(60, 86_400),
    default: 60,
    doc: 'Consul removes an instance this long after it turned critical (minimum 60)',
  },
  probeTtlSeconds: { schema: intKey(30, 86_400), default: 300, doc: 'TTL of gRPC-checked instances, refreshed by the health-sync probe' },
  idempotencyTtlSeconds: { schema: intKey(60, 604_800), default: 86_400, doc: 'How long an Idempotency-Key is remembered' },
  registrationPendingSeconds: {
    schema: intKey(15, 900),
    default: 30,
    doc: 'How long a registration in progress holds its Idempotency-Key and its quota slot; keep it above the function timeout',
  },
  maxInstancesPerApiKey: {
    schema: intKey(1, 100_000),
    default: 100,
    doc: 'Live (and in-flight) instances one API key may hold in all; more answer 429 QUOTA_EXCEEDED',
  },
  maxInstancesPerServicePerApiKey: {
    schema: intKey(1, 100_000),
    default: 50,
    doc: 'Live (and in-flight) instances one API key may hold in one service; more answer 429 QUOTA_EXCEEDED',
  },
  ...runtimeKeys('instance-registry-lambda'),
} as const satisfies KeySpecs;

/** The registry's effective, typed configuration. */
export type RegistryConfig = ConfigValues<typeof REGISTRY_KEYS>;
