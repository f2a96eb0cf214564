/** The health-sync job's configuration keys. */
import * as z from 'zod';
import { boolKey, intKey, listKey, SERVICE_NAME, type ConfigValues, type KeySpecs } from '../config/key-specs';
import { runtimeKeys } from '../runtime/runtime-keys';

const serviceList = listKey(z.string().regex(SERVICE_NAME, 'each service must be a DNS-style name'), 'service', 0, 500);

/** Health-sync keys. */
export const HEALTH_SYNC_KEYS = {
  services: { schema: serviceList, default: ['greeter'], doc: 'Consul services mirrored into Cloud Map (comma list)' },
  probeServices: {
    schema: serviceList,
    default: [],
    doc: 'Services whose instances have no agent-side check and are probed over gRPC (comma list)',
  },
  failuresBeforeCritical: { schema: intKey(1, 20), default: 3, doc: 'Consecutive failed probes before an instance turns critical' },
  successesBeforePassing: { schema: intKey(1, 20), default: 2, doc: 'Consecutive good probes before an instance turns passing' },
  probeTimeoutMs: { schema: intKey(100, 30_000), default: 1_000, doc: 'Deadline of one grpc.health.v1 Check call' },
  probeConcurrency: { schema: intKey(1, 256), default: 16, doc: 'Probes in flight at once' },
  mirrorProbeWaitMs: {
    schema: intKey(0, 60_000),
    default: 10_000,
    doc: "Longest the Cloud Map step waits for this run's probes of the instances it mirrors (probed first); past it, it mirrors the status Consul has, while the other probes go on",
  },
  cloudMapEnabled: { schema: boolKey(), default: true, doc: 'Mirror into Cloud Map (false: probe only)' },
  cloudMapNamespaceId: {
    schema: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9-]{0,64}$/, 'must be a Cloud Map namespace id'),
    default: '',
    doc: 'HTTP namespace id to mirror into',
  },
  cloudMapRegion: {
    schema: z
      .string()
      .trim()
      .regex(/^[a-z0-9-]{0,32}$/, 'must be an AWS region'),
    default: '',
    doc: "Region of the namespace (empty: the function's own)",
  },
  cloudMapEndpoint: {
    schema: z
      .string()
      .trim()
      .regex(/^(https?:\/\/[A-Za-z0-9.:[\]-]+\/?)?$/, 'must be an http(s) URL'),
    default: '',
    doc: 'Endpoint override (moto in tests; empty: AWS)',
  },
  ownerMarker: {
    schema: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be a short name'),
    default: 'consul-grpc-lambda',
    doc: 'Marker on the Cloud Map services this job owns',
  },
  applyConcurrency: { schema: intKey(1, 64), default: 8, doc: 'Cloud Map calls in flight at once' },
  reverseServices: {
    schema: serviceList,
    default: [],
    doc: 'Cloud Map services (not ours) imported into Consul as external services; empty: reverse sync off',
  },
  reverseNode: {
    schema: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9_.-]{1,128}$/, 'must be a node name'),
    default: 'aws-cloud-map',
    doc: 'Synthetic Consul node that holds the imported services',
  },
  lockTtlSeconds: {
    schema: intKey(10, 86_400),
    default: 120,
    doc: 'TTL of the run lock session; a crashed holder loses the lock after it',
  },
  ...runtimeKeys('health-sync-lambda'),
} as const satisfies KeySpecs;

/** The job's effective config. */
export type HealthSyncConfig = ConfigValues<typeof HEALTH_SYNC_KEYS>;
