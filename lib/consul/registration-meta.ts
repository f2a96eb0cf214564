/**
 * Service meta the instance registry writes on what it registers, and the
 * health-sync job reads to find what it must probe: a contract between the two
 * kept here, below both, so neither imports the other.
 */

/** Meta keys written by the server; clients may not set `lease-*` or `consul-*` keys. */
export const REGISTRATION_META = {
  registeredBy: 'lease-registered-by',
  check: 'lease-check',
  ttl: 'lease-ttl-seconds',
  idempotency: 'lease-idempotency',
  probeService: 'lease-probe-grpc-service',
} as const;

/** The Consul filter expression that selects instances whose health a gRPC probe sets. */
export const GRPC_PROBED_FILTER = `Meta["${REGISTRATION_META.check}"] == "grpc"`;
