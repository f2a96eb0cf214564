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

/** The discovery query the config asks for. */
export function greeterQuery(cfg: GatewayConfig): ServiceQuery {
  return {
    service: cfg.greeterService,
    ...(cfg.greeterTag ? { tag: cfg.greeterTag } : {}),
    ...(cfg.greeterDatacenter ? { datacenter: cfg.greeterDatacenter } : {}),
    ...(cfg.greeterFailoverDatacenters.length ? { failover: cfg.greeterFailoverDatacenters } : {}),
    ...(cfg.greeterTransport === 'connect' ? { connect: true } : {}),
  };
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
  // (both kept if the config agrees).
  const loaded = await rt.beginDiscovering(greeterQuery, { leaseInParallel: true, channelOf: plaintextTarget });
  const cfg = loaded.values;
  const query = greeterQuery(cfg);
  const identity = cfg.greeterTransport === 'connect' ? presentedIdentity(cfg) : undefined;
  const details: GreetErrorDetails = {
    retryAfterSeconds: cfg.retryAfterSeconds,
    backendService: query.service,
    ...(identity ? { sourceIdentity: identity } : {}),
  };
  try {
    const call = await invokeUnary(rt, cfg, {
      method: SAY_HELLO,
      hedged: SAY_HELLO_HEDGED,
      request: { name },
      // The key's enum rule admits only these three.
      route: {
        query,
        transport: cfg.greeterTransport as CallRoute['transport'],
        tlsServerName: cfg.greeterTlsServerName,
        identity: presentedIdentity(cfg),
      },
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
