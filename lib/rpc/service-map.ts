/**
 * Which Consul service serves which gRPC service, and how it is reached: the `rpcServices` config key,
 * a JSON object from gRPC service name to the per-service settings, named as the Greeter's keys are
 * without their `greeter` prefix (service, tag, datacenter, failoverDatacenters, transport,
 * tlsServerName). A gRPC service without an entry follows the default rule: the Consul service named
 * after the gRPC service's simple name in kebab case (`helloworld.Greeter` → `greeter`,
 * `acme.billing.v1.InvoiceService` → `invoice-service`), plaintext, any tag, the agent's datacenter.
 */
import * as z from 'zod/mini';
import { optionalNameKey, SERVICE_NAME } from '../config/key-specs';
import type { ServiceQuery } from '../discovery/service-query';
import type { CallRoute } from '../runtime/gateway-credentials';

const DNS_NAME = /^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*)?$/;

// zod/mini loads no locale: every rule names its message.
const entrySchema = z.strictObject(
  {
    service: z.optional(z.string().check(z.regex(SERVICE_NAME, 'must be a DNS-style service name'))),
    tag: z.optional(optionalNameKey('tag')),
    datacenter: z.optional(optionalNameKey('datacenter')),
    failoverDatacenters: z.optional(
      z
        .array(optionalNameKey('datacenter').check(z.minLength(1, 'datacenter must not be empty')))
        .check(z.maxLength(8, 'must list at most 8 datacenters')),
    ),
    transport: z.optional(z.enum(['plaintext', 'tls', 'connect'], "must be 'plaintext', 'tls' or 'connect'")),
    tlsServerName: z.optional(z.string().check(z.regex(DNS_NAME, 'must be a DNS name'))),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown setting ${issue.keys.join(', ')}` : 'must be an object of settings') },
);

const mapSchema = z.record(
  z.string().check(z.regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$/, 'must be package.Service')),
  entrySchema,
  {
    error: 'must be a JSON object',
  },
);

/** The settings of one mapped gRPC service. */
export interface ServiceRoute {
  /** The Consul service. */
  service: string;
  tag: string;
  datacenter: string;
  failoverDatacenters: string[];
  transport: 'plaintext' | 'tls' | 'connect';
  /** With transport tls: the name each instance's certificate carries (default `<service>.service.consul`). */
  tlsServerName: string;
}

/** The error text for a bad `rpcServices` value, or undefined when it is valid. */
export function serviceMapProblem(raw: string): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return 'must be a JSON object';
  }
  const parsed = mapSchema.safeParse(value);
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0];
  return `${issue?.path.join('.') || 'value'}: ${issue?.message ?? 'invalid'}`;
}

/** The Consul service name the default rule gives a gRPC service (pure). */
export function defaultConsulService(grpcService: string): string {
  const simple = grpcService.slice(grpcService.lastIndexOf('.') + 1);
  return simple
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1-$2')
    .replace(/_/g, '-')
    .toLowerCase()
    .slice(0, 63);
}

const parsedMaps = new Map<string, Record<string, z.infer<typeof entrySchema>>>();

/** The route of `grpcService` under the `rpcServices` value `raw` (validated by the config store already). */
export function serviceRoute(raw: string, grpcService: string): ServiceRoute {
  let map = parsedMaps.get(raw);
  if (!map) {
    const parsed = mapSchema.safeParse(JSON.parse(raw || '{}'));
    map = parsed.success ? parsed.data : {};
    // A config refresh brings a new value now and then; the old ones are not needed again.
    if (parsedMaps.size > 8) parsedMaps.clear();
    parsedMaps.set(raw, map);
  }
  const e = map[grpcService] ?? {};
  return {
    service: e.service ?? defaultConsulService(grpcService),
    tag: e.tag ?? '',
    datacenter: e.datacenter ?? '',
    failoverDatacenters: e.failoverDatacenters ?? [],
    transport: e.transport ?? 'plaintext',
    tlsServerName: e.tlsServerName ?? '',
  };
}

/** The discovery query of a route, as the Greeter builds its own from its keys. */
export function routeQuery(r: ServiceRoute): ServiceQuery {
  return {
    service: r.service,
    ...(r.tag ? { tag: r.tag } : {}),
    ...(r.datacenter ? { datacenter: r.datacenter } : {}),
    ...(r.failoverDatacenters.length ? { failover: r.failoverDatacenters } : {}),
    ...(r.transport === 'connect' ? { connect: true } : {}),
  };
}

/** How the invoker reaches a route's Consul service; `identity` is the Connect identity the function presents. */
export function callRoute(r: ServiceRoute, identity: string): CallRoute {
  return { query: routeQuery(r), transport: r.transport, tlsServerName: r.tlsServerName, identity };
}
