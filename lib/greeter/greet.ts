/** The greet use case: config → discovery → SayHello with retries. */
import type { ChannelCredentials } from '@grpc/grpc-js';
import type { ServiceInstance } from '../consul/service-instances';
import type { InstanceWatch } from '../discovery/instance-watch';
import { instanceForPeer, type ServiceQuery } from '../discovery/service-query';
import { consulTarget } from '../grpc/consul-target';
import { callBudgetMs } from '../grpc/deadline';
import { GreeterCallError } from '../grpc/errors';
import { callAcrossDatacenters, type FailoverResult } from '../grpc/datacenter-failover';
import { sayHello, type GreeterCallResult } from '../grpc/greeter-call';
import { outgoingTraceHeaders } from '../tracing/propagation';
import type { TraceContext } from '../tracing/trace-context';
import { greetErrorFromCall } from './call-failure';
import { GreetError, type GreetErrorDetails } from './errors';
import type { GatewayConfig } from './gateway-config';
import type { GatewayRuntime } from './gateway-runtime';
import { requestCredentials } from './greeter-credentials';

/** Longest a cold start waits for discovery once config found Consul unreachable. */
const UNREACHABLE_DISCOVERY_WAIT_MS = 400;

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

/** One greet: config, the passing instances and the credentials, then the call across datacenters. */
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
  const watch = rt.watches.get(query);
  watch.ensureFresh();
  const pending = requestCredentials(rt, cfg, query);
  // Config that could not be read at all has spent the cold-start budget already: keep the answer within ~2 s.
  const coldWait = loaded.index === undefined ? Math.min(cfg.coldStartWaitMs, UNREACHABLE_DISCOVERY_WAIT_MS) : cfg.coldStartWaitMs;
  const waitMs = () => callBudgetMs(coldWait, remainingMs(), cfg.deadlineMarginMs);
  const instances = watch.current() ?? (await watch.waitForFirst(waitMs()));
  const details: GreetErrorDetails = {
    retryAfterSeconds: cfg.retryAfterSeconds,
    backendService: query.service,
    ...(pending.identity ? { sourceIdentity: pending.identity } : {}),
  };
  rt.coldStart.mark('discovery');
  rt.metrics.level('InstancesDiscovered', instances?.length ?? 0);
  if (!instances?.length) throw new GreetError('no_healthy_instance', `no healthy instance of ${query.service}`, details);
  const creds = await pending.settle(waitMs, details);
  // Read the Lambda's remaining time now: a cold start may have used some of it.
  const budget = callBudgetMs(cfg.callDeadlineMs, remainingMs(), cfg.deadlineMarginMs);
  const started = Date.now();
  try {
    const call = await callGreeter(rt, cfg, query, name, {
      watch,
      instances,
      creds,
      tlsServerName: pending.tlsServerName,
      deadline: started + budget,
      metadata,
    });
    rt.coldStart.mark('call');
    rt.coldStart.end(rt.log);
    // A failed-over call's time is mostly the other datacenter's distance: it would skew the local hedging delay.
    rt.callPolicy.record({
      ok: true,
      attempts: call.attempts,
      failoverAttempts: call.failoverAttempts,
      ...(call.failedOver ? {} : { latencyMs: Date.now() - started }),
    });
    if (call.failedOver) {
      rt.metrics.count('GreetFailovers');
      rt.failoverLog.note({ service: query.service, from: instances[0]?.datacenter ?? 'local', to: call.datacenter });
    }
    return greetResult(cfg, call);
  } catch (err) {
    if (!(err instanceof GreeterCallError)) throw err;
    rt.callPolicy.record({ ok: false, attempts: err.attempts, failoverAttempts: err.failoverAttempts });
    throw greetErrorFromCall(err, { service: query.service, identity: pending.identity, budgetMs: budget, details });
  }
}

/** A call's answer and the instance list it was routed over. */
type RoutedCall = GreeterCallResult & { instances: readonly ServiceInstance[] };

/** How one greet reaches the Greeters once discovery answered. */
interface CallPlan {
  watch: InstanceWatch;
  instances: readonly ServiceInstance[];
  creds: (() => ChannelCredentials) | undefined;
  tlsServerName: string | undefined;
  /** Epoch ms covering every attempt in every datacenter. */
  deadline: number;
  metadata: Readonly<Record<string, string>> | undefined;
}

/** SayHello through the query's channel, then, if every local attempt was UNAVAILABLE, the failover datacenters in order. */
function callGreeter(
  rt: GatewayRuntime,
  cfg: GatewayConfig,
  query: ServiceQuery,
  name: string,
  p: CallPlan,
): Promise<FailoverResult<RoutedCall>> {
  const transport = p.tlsServerName ? { tlsServerName: p.tlsServerName } : {};
  const target = consulTarget(query, transport);
  const client = rt.clients.get(target, cfg.channelMaxIdleMs, p.creds);
  rt.coldStart.markWhenReady('connect', client);
  const { failover = [], ...single } = query;
  return callAcrossDatacenters({
    first: async () => ({
      ...(await sayHello(client, name, {
        deadline: p.deadline,
        newChannel: rt.clients.isNew(target),
        allRefused: () => rt.clients.allRefused(target),
        metadata: p.metadata,
      })),
      instances: p.watch.current() ?? p.instances,
    }),
    // The watch serves a failover datacenter's list once Consul marked every local instance critical.
    servedDatacenter: p.instances[0]?.datacenter,
    failover,
    deadline: p.deadline,
    inDatacenter: (dc) => callInDatacenter(rt, { ...single, datacenter: dc }, name, { ...p, transport, maxIdleMs: cfg.channelMaxIdleMs }),
    budgetAllows: (lostInFailover) => rt.callPolicy.allowsFailover(lostInFailover),
    // An address that refused a call is news for sources that cache (DNS, Cloud Map): re-resolve now.
    onUnavailable: () => rt.watches.invalidate(query),
  });
}

/**
 * SayHello in failover datacenter `q.datacenter`, through its own channel and watch; undefined when
 * it has no passing instance. The watch is the one FailoverWatch keeps for that datacenter: it starts
 * here at the first call that fails over (if Consul had not emptied the local list before), then
 * keeps following, so the next outage finds the list warm.
 */
async function callInDatacenter(
  rt: GatewayRuntime,
  q: ServiceQuery,
  name: string,
  o: CallPlan & { transport: { tlsServerName?: string }; maxIdleMs: number },
): Promise<RoutedCall | undefined> {
  const watch = rt.watches.get(q);
  watch.ensureFresh();
  const instances = watch.current() ?? (await watch.waitForFirst(Math.max(0, o.deadline - Date.now())));
  if (!instances?.length) return undefined;
  const target = consulTarget(q, o.transport);
  const client = rt.clients.get(target, o.maxIdleMs, o.creds);
  return {
    ...(await sayHello(client, name, {
      deadline: o.deadline,
      newChannel: rt.clients.isNew(target),
      allRefused: () => rt.clients.allRefused(target),
      metadata: o.metadata,
    })),
    instances,
  };
}

/** The caller's answer: the reply and the instance that served it (its address only with exposeBackendAddress). */
function greetResult(cfg: GatewayConfig, call: FailoverResult<RoutedCall>): GreetResult {
  const res = call.result;
  const served = instanceForPeer(res.instances, res.peer);
  const datacenter = call.failedOver ? call.datacenter : served?.datacenter;
  return {
    message: res.reply.message,
    servedBy: {
      id: served?.id ?? 'unknown',
      ...(cfg.exposeBackendAddress ? (served ? { address: served.address, port: served.port } : { address: res.peer }) : {}),
      ...(datacenter ? { datacenter } : {}),
    },
    attempts: call.attempts,
  };
}
