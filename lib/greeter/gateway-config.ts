/** The greeter gateway's configuration keys (greet and status functions). */
import * as z from 'zod/mini';
import {
  boolKey,
  enumKey,
  intKey,
  listKey,
  optionalNameKey,
  SERVICE_NAME,
  textKey,
  type ConfigValues,
  type KeySpecs,
} from '../config/key-specs';
import { runtimeKeys } from '../runtime/runtime-keys';

/** The greeter gateway's keys (greet and status functions). */
export const GATEWAY_KEYS = {
  greeterService: {
    schema: textKey(SERVICE_NAME, 'must be a DNS-style service name'),
    default: 'greeter',
    doc: 'Consul service name of the Greeter backends',
  },
  greeterTag: { schema: optionalNameKey('tag'), default: '', doc: 'Only route to instances with this tag (empty: any)' },
  greeterDatacenter: {
    schema: optionalNameKey('datacenter'),
    default: '',
    doc: "Consul datacenter to discover in (empty: the agent's own)",
  },
  greeterFailoverDatacenters: {
    schema: listKey(optionalNameKey('datacenter').check(z.minLength(1, 'datacenter must not be empty')), 'datacenter', 0, 8),
    default: [],
    doc: 'Datacenters to route to, in order, while the first has no passing instance (comma list; empty: no failover)',
  },
  greeterTransport: {
    schema: enumKey(['plaintext', 'tls', 'connect'], "must be 'plaintext', 'tls' or 'connect'"),
    default: 'plaintext',
    doc: "How to reach the Greeters: 'plaintext' gRPC; 'tls' (server verified against GREETER_CACERT, else Node's default roots, and greeterTlsServerName); or 'connect' (Connect-native mTLS, authorized by intentions; discovers /v1/health/connect)",
  },
  greeterTlsServerName: {
    schema: textKey(
      /^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*)?$/,
      'must be empty or a DNS name',
    ),
    default: '',
    doc: "With greeterTransport=tls: the name every Greeter's certificate must carry (empty: <greeterService>.service.consul)",
  },
  gatewayIdentity: {
    schema: textKey(/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)?$/, 'must be empty or a DNS-style service name'),
    default: '',
    doc: 'Connect service identity the gateway presents (its token needs service:write on it; empty: leaseService)',
  },
  exposeBackendAddress: {
    schema: boolKey(),
    default: false,
    doc: "Answer the serving backend's address and port in servedBy (false: its instance id only; the public /hello would map the private network)",
  },
  callDeadlineMs: { schema: intKey(50, 60_000), default: 2_000, doc: 'Deadline for one greet request, all attempts included' },
  deadlineMarginMs: { schema: intKey(0, 10_000), default: 250, doc: "Time kept back from the Lambda's remaining time to answer" },
  maxAttempts: {
    schema: intKey(1, 10),
    default: 3,
    doc: 'Attempts per request, hedged ones included; UNAVAILABLE moves on to another instance at once',
  },
  hedgeMinDelayMs: {
    schema: intKey(1, 60_000),
    default: 20,
    doc: 'Shortest wait before a hedged attempt goes to another instance (the wait follows the p95 latency)',
  },
  hedgeMaxDelayMs: {
    schema: intKey(1, 60_000),
    default: 200,
    doc: 'Longest wait before a hedged attempt, and the wait until enough calls were seen; keep it well below callDeadlineMs',
  },
  ejectionFailurePercent: {
    schema: intKey(1, 100),
    default: 50,
    doc: 'An instance whose attempts fail (or are cancelled) this often within a second is ejected',
  },
  ejectionMinRequests: {
    schema: intKey(1, 10_000),
    default: 10,
    doc: 'Attempts an instance needs within a second before it can be ejected',
  },
  ejectionBaseMs: {
    schema: intKey(1_000, 3_600_000),
    default: 30_000,
    doc: 'First ejection time; it grows with each new ejection of the same instance',
  },
  retryAfterSeconds: { schema: intKey(1, 300), default: 1, doc: 'Retry-After sent with 503 responses' },
  discoveryWaitSeconds: { schema: intKey(1, 300), default: 30, doc: 'Blocking-query wait for service discovery' },
  discoveryMinIntervalMs: { schema: intKey(0, 60_000), default: 500, doc: 'Least time between two discovery polls (rate limit)' },
  discoveryBackoffBaseMs: {
    schema: intKey(10, 60_000),
    default: 250,
    doc: 'First pause after a failed discovery poll; doubles per failure, with jitter',
  },
  discoveryBackoffMaxMs: { schema: intKey(100, 300_000), default: 10_000, doc: 'Longest pause between failed discovery polls' },
  coldStartWaitMs: { schema: intKey(100, 10_000), default: 1_500, doc: 'Longest a cold start waits for the first discovery answer' },
  channelMaxIdleMs: {
    schema: intKey(1_000, 3_600_000),
    default: 120_000,
    doc: 'A gRPC channel idle this long is replaced (its connections may have died while frozen)',
  },
  ...runtimeKeys('greeter-gateway-lambda'),
} as const satisfies KeySpecs;

/** The gateway's effective, typed configuration. */
export type GatewayConfig = ConfigValues<typeof GATEWAY_KEYS>;
