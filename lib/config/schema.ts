/**
 * The gateway's configuration keys, each with its default, its rule and its doc.
 *
 * Values live in Consul K/V as plain strings under the function's prefix
 * (e.g. `config/greeter-gateway/dev/callDeadlineMs` = `1500`). Every key is
 * validated on its own so one bad write falls back for that key only.
 */
import { z } from 'zod';

/** A DNS-style service name, as Consul and Cloud Map both accept. */
export const SERVICE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** One config key: its rule for the K/V string, its default, one line of docs. */
export interface KeySpec {
  schema: z.ZodType<string | number | boolean | string[], string>;
  default: string | number | boolean | readonly string[];
  doc: string;
}

/** A function's set of config keys. */
export type KeySpecs = Record<string, KeySpec>;

type Widen<T> = T extends number ? number : T extends boolean ? boolean : T extends string ? string : T extends readonly string[] ? string[] : never;

/** The typed values of a key set. */
export type ConfigValues<S extends KeySpecs> = { [K in keyof S]: Widen<S[K]['default']> };

/** An integer key within [min, max]. */
export function intKey(min: number, max: number) {
  return z
    .string()
    .trim()
    .regex(/^-?\d+$/, 'must be an integer')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));
}

/** A `true`/`false` key. */
export function boolKey() {
  return z
    .string()
    .trim()
    .toLowerCase()
    .refine((v) => v === 'true' || v === 'false', 'must be true or false')
    .transform((v) => v === 'true');
}

const optionalName = (what: string) =>
  z.string().trim().max(128, `${what} must be at most 128 characters`).regex(/^[A-Za-z0-9_.:-]*$/, `${what} may hold only letters, digits and _ . : -`);

/** The greeter gateway's keys (greet and status functions). */
export const CONFIG_KEYS = {
  greeterService: { schema: z.string().trim().regex(SERVICE_NAME, 'must be a DNS-style service name'), default: 'greeter', doc: 'Consul service name of the Greeter backends' },
  greeterTag: { schema: optionalName('tag'), default: '', doc: 'Only route to instances with this tag (empty: any)' },
  greeterDatacenter: { schema: optionalName('datacenter'), default: '', doc: "Consul datacenter to discover in (empty: the agent's own)" },
  callDeadlineMs: { schema: intKey(50, 60_000), default: 2_000, doc: 'Deadline for one greet request, all attempts included' },
  deadlineMarginMs: { schema: intKey(0, 10_000), default: 250, doc: "Time kept back from the Lambda's remaining time to answer" },
  maxAttempts: { schema: intKey(1, 10), default: 3, doc: 'Attempts per request; UNAVAILABLE is retried on another instance' },
  retryAfterSeconds: { schema: intKey(1, 300), default: 1, doc: 'Retry-After sent with 503 responses' },
  discoveryWaitSeconds: { schema: intKey(1, 300), default: 30, doc: 'Blocking-query wait for service discovery' },
  discoveryMinIntervalMs: { schema: intKey(0, 60_000), default: 500, doc: 'Least time between two discovery polls (rate limit)' },
  coldStartWaitMs: { schema: intKey(100, 10_000), default: 1_500, doc: 'Longest a cold start waits for the first discovery answer' },
  channelMaxIdleMs: { schema: intKey(1_000, 3_600_000), default: 120_000, doc: 'A gRPC channel idle this long is replaced (its connections may have died while frozen)' },
  configMaxAgeSeconds: { schema: intKey(0, 86_400), default: 60, doc: 'Re-read K/V in the background after this age (0: never)' },
  leaseEnabled: { schema: boolKey(), default: true, doc: 'Register each execution environment in Consul with a TTL lease' },
  leaseService: { schema: z.string().trim().regex(SERVICE_NAME, 'must be a DNS-style service name'), default: 'greeter-gateway-lambda', doc: 'Service name of the execution-environment leases' },
  leaseTtlSeconds: { schema: intKey(2, 3_600), default: 30, doc: 'TTL of the lease check; invocations renew it at most once per third' },
  leaseDeregisterAfterSeconds: { schema: intKey(60, 86_400), default: 60, doc: 'Consul removes a lease this long after it turned critical (Consul minimum: 60)' },
} as const satisfies KeySpecs;

/** A config key name of the gateway. */
export type ConfigKey = keyof typeof CONFIG_KEYS;

/** The gateway's effective, typed configuration. */
export type GatewayConfig = ConfigValues<typeof CONFIG_KEYS>;

/** Where a value came from, as /status shows it. */
export type ConfigSource = 'default' | 'kv' | 'default (invalid kv value)' | 'default (consul unreachable)';

/** One rejected K/V value. */
export interface ConfigProblem {
  key: string;
  reason: string;
}
