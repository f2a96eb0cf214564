/** The generic route's configuration keys (the rpc function), read from its own K/V prefix. */
import * as z from 'zod/mini';
import { boolKey, intKey, listKey, textKey, type ConfigValues, type KeySpecs } from '../config/key-specs';
import { runtimeKeys } from '../runtime/runtime-keys';
import { ALLOW_ENTRY, forbiddenHeader } from './exposure';
import { serviceMapProblem } from './service-map';

// zod/mini loads no locale: every rule names its message.
const headerName = z.string().check(
  z.toLowerCase(),
  z.regex(/^[a-z0-9][a-z0-9-]*$/, 'each header must be a lower-case token'),
  z.superRefine((name, ctx) => {
    const why = forbiddenHeader(name);
    if (why) ctx.addIssue({ code: 'custom', input: name, message: `may not be forwarded: ${why}` });
  }),
);

/** The rpc function's keys. */
export const RPC_KEYS = {
  rpcAllow: {
    schema: listKey(
      z.string().check(z.regex(ALLOW_ENTRY, 'each entry must be package.Service/Method or package.Service/*')),
      'method',
      0,
      500,
    ),
    default: ['helloworld.Greeter/SayHello'],
    doc: 'Methods the route may call (comma list of package.Service/Method or package.Service/*); any other answers 404',
  },
  rpcServices: {
    schema: z.string().check(
      z.trim(),
      z.superRefine((raw, ctx) => {
        const why = raw === '' ? undefined : serviceMapProblem(raw);
        if (why) ctx.addIssue({ code: 'custom', input: raw, message: why });
      }),
    ),
    default: '{}',
    doc: 'JSON map from gRPC service to {service, tag, datacenter, failoverDatacenters, transport, tlsServerName}; unmapped: the kebab-case simple name, plaintext',
  },
  rpcForwardHeaders: {
    schema: listKey(headerName, 'header', 0, 50),
    default: [],
    doc: 'Request headers passed on as gRPC metadata (comma list; never authorization, x-api-key, hop-by-hop or x-amzn-*)',
  },
  rpcReflection: {
    schema: boolKey(),
    default: false,
    doc: 'Ask backends for the descriptors of allow-listed services that proto/ does not ship (server reflection, once per execution environment)',
  },
  gatewayIdentity: {
    schema: textKey(/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)?$/, 'must be empty or a DNS-style service name'),
    default: '',
    doc: 'Connect service identity the route presents to connect services (its token needs service:write on it; empty: leaseService)',
  },
  callDeadlineMs: { schema: intKey(50, 60_000), default: 2_000, doc: 'Deadline for one call, all attempts included' },
  deadlineMarginMs: { schema: intKey(0, 10_000), default: 250, doc: "Time kept back from the Lambda's remaining time to answer" },
  maxAttempts: { schema: intKey(1, 10), default: 3, doc: 'Attempts per call of an idempotent method, hedged ones included' },
  hedgeMinDelayMs: { schema: intKey(1, 60_000), default: 20, doc: 'Shortest wait before a hedged attempt' },
  hedgeMaxDelayMs: { schema: intKey(1, 60_000), default: 200, doc: 'Longest wait before a hedged attempt' },
  ejectionFailurePercent: { schema: intKey(1, 100), default: 50, doc: 'Failure share within a second that ejects an instance' },
  ejectionMinRequests: {
    schema: intKey(1, 10_000),
    default: 10,
    doc: 'Attempts an instance needs within a second before it can be ejected',
  },
  ejectionBaseMs: { schema: intKey(1_000, 3_600_000), default: 30_000, doc: 'First ejection time' },
  retryAfterSeconds: { schema: intKey(1, 300), default: 1, doc: 'Retry-After sent with 503 responses' },
  discoveryWaitSeconds: { schema: intKey(1, 300), default: 30, doc: 'Blocking-query wait for service discovery' },
  discoveryMinIntervalMs: { schema: intKey(0, 60_000), default: 500, doc: 'Least time between two discovery polls' },
  discoveryBackoffBaseMs: { schema: intKey(10, 60_000), default: 250, doc: 'First pause after a failed discovery poll' },
  discoveryBackoffMaxMs: { schema: intKey(100, 300_000), default: 10_000, doc: 'Longest pause between failed discovery polls' },
  coldStartWaitMs: { schema: intKey(100, 10_000), default: 1_500, doc: 'Longest a first call of a service waits for discovery' },
  channelMaxIdleMs: { schema: intKey(1_000, 3_600_000), default: 120_000, doc: 'A gRPC channel idle this long is replaced' },
  ...runtimeKeys('rpc-gateway-lambda'),
} as const satisfies KeySpecs;

/** The rpc function's effective, typed configuration. */
export type RpcConfig = ConfigValues<typeof RPC_KEYS>;
