/** The greet use case: config → SayHello through the generic invoker (discovery, hedging, failover). */
import type { ServiceQuery } from '../discovery/service-query';
import { instanceForPeer } from '../discovery/service-query';
import { consulTarget } from '../grpc/consul-target';
import type { CallRoute } from '../runtime/gateway-credentials';
import { InvokeError, invokeUnary, type Invoked } from '../runtime/gateway-invoker';
import { presentedIdentity } from '../runtime/gateway-keys';
import { outgoingTraceHeaders } from '../tracing/propagation';
import type { TraceContext } from '../tracing/trace-context';
import type { HelloReply } from '../../proto/gen/helloworld';
import { greetErrorFromCall } from './call-failure';
import { GreetError, type GreetErrorDetails } from './errors';
import type { GatewayConfig } from './gateway-config';
import type { GatewayRuntime } from './gateway-runtime';
import { SAY_HELLO, SAY_HELLO_HEDGED } from './say-hello';

/** What a successful greet returns to the caller. */
export interface GreetResult {
  message: string;
  /** `datacenter` is set when a failover datacenter served the call. */
  /** `address` and `port` only with `exposeBackendAddress` (they map the private network for any caller). */
  servedBy: { id: string; address?: string; port?: number; datacenter?: string };
  attempts: number;
}

/** Where a config sends greet's calls, and what its errors name. */
interface GreetRoute {
  route: CallRoute;
  /** The Connect identity presented (connect transport only). */
  identity: string | undefined;
  details: GreetErrorDetails;
}

// One route per config object (a refresh makes a new one): warm invocations reuse it, and the watch and
// channel lookups find their keys kept on its query instead of building them again.
const routes = new WeakMap<GatewayConfig, GreetRoute>();

function greetRoute(cfg: GatewayConfig): GreetRoute {
  let r = routes.get(cfg);
  if (r) return r;
  const query = queryOf(cfg);
  const identity = cfg.greeterTransport === 'connect' ? presentedIdentity(cfg) : undefined;
  r = {
    route: {
      query,
      // The key's enum rule admits only these three.
      transport: cfg.greeterTransport as CallRoute['transport'],
      tlsServerName: cfg.greeterTlsServerName,
      identity: presentedIdentity(cfg),
    },
    identity,
    details: { retryAfterSeconds: cfg.retryAfterSeconds, backendService: query.service, ...(identity ? { sourceIdentity: identity } : {}) },
  };
  // Shared by every invocation on this config: frozen, so none can change what the next one sends.
  Object.freeze(r.route);
  Object.freeze(r.details);
  routes.set(cfg, r);
  return r;
}

/** The discovery query the config asks for (the same object for the same config object). */
export function greeterQuery(cfg: GatewayConfig): ServiceQuery {
  return greetRoute(cfg).route.query;
}

function queryOf(cfg: GatewayConfig): ServiceQuery {
  return Object.freeze({
    service: cfg.greeterService,
    ...(cfg.greeterTag ? { tag: cfg.greeterTag } : {}),
    ...(cfg.greeterDatacenter ? { datacenter: cfg.greeterDatacenter } : {}),
    ...(cfg.greeterFailoverDatacenters.length ? { failover: cfg.greeterFailoverDatacenters } : {}),
    ...(cfg.greeterTransport === 'connect' ? { connect: true } : {}),
  });
}

/** The channel target of a plaintext config (undefined for tls and connect, whose credentials the config decides). */
function plaintextTarget(cfg: GatewayConfig): string | undefined {
  return cfg.greeterTransport === 'plaintext' ? consulTarget(greeterQuery(cfg)) : undefined;
}

/**
 * Greets `name` through a passing Greeter instance within the Lambda's time; throws GreetError on failure.
 * With `trace`, every attempt (hedges, retries, failover datacenters) carries its context to the Greeter.
 */
export async function greet(
  rt: GatewayRuntime,
  name: string,
  remainingMs: () => number | undefined,
  trace?: TraceContext,
): Promise<GreetResult> {
  const t0 = performance.now();
  try {
    // Synchronous unless an OpenTelemetry SDK is registered.
    const headers = trace && outgoingTraceHeaders(trace);
    const result = await greetOnce(rt, name, remainingMs, headers instanceof Promise ? await headers : headers);
    rt.metrics.latency('GreetLatency', performance.now() - t0);
    rt.metrics.level('GreetAttempts', result.attempts);
    // Debug only (POWERTOOLS_LOG_LEVEL=DEBUG, or a sample rate): the line to join with the Greeter's by trace_id.
    rt.log.debug('greeted', { attempts: result.attempts, servedBy: result.servedBy.id });
    return result;
  } catch (err) {
    rt.metrics.count('GreetErrors');
    throw err;
  } finally {
    // The cold start's lease registration ran beside discovery and the first call; it still lands
    // before the answer, so an environment that answered is always registered.
    await rt.leaseSettled();
    rt.metrics.flush();
  }
}

/** One greet: config (a cold start discovers and connects beside the read), then SayHello through the invoker. */
async function greetOnce(
  rt: GatewayRuntime,
  name: string,
  remainingMs: () => number | undefined,
  metadata: Readonly<Record<string, string>> | undefined,
): Promise<GreetResult> {
  // A cold start discovers the default query, and connects its plaintext channel, alongside the config read
  // (both kept if the config agrees); a warm invocation has nothing to wait for.
  const loaded = rt.beginWarm() ?? (await rt.beginDiscovering(greeterQuery, { leaseInParallel: true, channelOf: plaintextTarget }));
  const cfg = loaded.values;
  const { route, identity, details } = greetRoute(cfg);
  const { query } = route;
  try {
    const call = await invokeUnary(rt, cfg, {
      method: SAY_HELLO,
      hedged: SAY_HELLO_HEDGED,
      request: { name },
      route,
      ...(metadata ? { metadata } : {}),
      remainingMs,
      configRead: loaded.index !== undefined,
      onDiscovered: (instances) => rt.metrics.level('InstancesDiscovered', instances.length),
    });
    if (call.failedOver) {
      rt.metrics.count('GreetFailovers');
      rt.failoverLog.note({ service: query.service, from: call.firstDatacenter ?? 'local', to: call.datacenter });
    }
    return greetResult(cfg, call);
  } catch (err) {
    if (!(err instanceof InvokeError)) throw err;
    if (err.kind === 'no_healthy_instance') throw new GreetError('no_healthy_instance', err.message, details);
    if (err.kind === 'no_certificate' || !err.facts.call) throw new GreetError('unavailable', err.message, details);
    throw greetErrorFromCall(err.facts.call, { service: query.service, identity, budgetMs: err.facts.budgetMs ?? 0, details });
  }
}

/** The caller's answer: the reply and the instance that served it (its address only with exposeBackendAddress). */
function greetResult(cfg: GatewayConfig, call: Invoked<HelloReply>): GreetResult {
  const served = instanceForPeer(call.instances, call.peer);
  const datacenter = call.failedOver ? call.datacenter : served?.datacenter;
  return {
    message: call.reply.message,
    servedBy: {
      id: served?.id ?? 'unknown',
      ...(cfg.exposeBackendAddress ? (served ? { address: served.address, port: served.port } : { address: call.peer }) : {}),
      ...(datacenter ? { datacenter } : {}),
    },
    attempts: call.attempts,
  };
}
