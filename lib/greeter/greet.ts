/** The greet use case: config → discovery → SayHello with retries. */
import { performance } from 'node:perf_hooks';
import type { ChannelCredentials } from '@grpc/grpc-js';
import type { ServiceInstance } from '../consul/service-instances';
import { connectChannelCredentials } from '../connect/credentials';
import { instanceForPeer, type ServiceQuery } from '../discovery/service-query';
import { consulTarget } from '../grpc/consul-target';
import { callBudgetMs } from '../grpc/deadline';
import { GreeterCallError, statusName } from '../grpc/errors';
import { callAcrossDatacenters } from '../grpc/datacenter-failover';
import { sayHello, type GreeterCallResult } from '../grpc/greeter-call';
import { greeterTlsCredentials } from '../grpc/tls-credentials';
import { coldStartTrace } from '../runtime/cold-start-trace';
import { outgoingTraceHeaders } from '../tracing/propagation';
import type { TraceContext } from '../tracing/trace-context';
import { GreetError } from './errors';
import type { GatewayConfig } from './gateway-config';
import type { GatewayRuntime } from './gateway-runtime';

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

/** The Connect identity the gateway presents. */
export function gatewayIdentity(cfg: GatewayConfig): string {
  return cfg.gatewayIdentity || cfg.leaseService;
}

/** The name every Greeter certificate must carry with greeterTransport=tls. */
export function greeterTlsServerName(cfg: GatewayConfig): string {
  return cfg.greeterTlsServerName || `${cfg.greeterService}.service.consul`;
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
    const result = await greetOnce(rt, name, remainingMs, trace && (await outgoingTraceHeaders(trace)));
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

/** Least time between two "failed over" log lines of one runtime: an outage fails over every call. */
const FAILOVER_LOG_INTERVAL_MS = 10_000;
const failoverLog = new WeakMap<GatewayRuntime, { at: number; since: number }>();

/** Counts a call served by another datacenter than the one it went to first, and logs it at most every 10 s. */
function noteFailover(rt: GatewayRuntime, where: { service: string; from: string; to: string | undefined }): void {
  rt.metrics.count('GreetFailovers');
  const state = failoverLog.get(rt) ?? { at: -Infinity, since: 0 };
  state.since++;
  failoverLog.set(rt, state);
  if (Date.now() - state.at < FAILOVER_LOG_INTERVAL_MS) return;
  rt.log.warn('calls failed over to another datacenter within the call (every attempt in the first was UNAVAILABLE)', {
    ...where,
    calls: state.since,
  });
  state.at = Date.now();
  state.since = 0;
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
  o: {
    deadline: number;
    transport: { tlsServerName?: string };
    maxIdleMs: number;
    creds?: () => ChannelCredentials;
    metadata?: Readonly<Record<string, string>>;
  },
): Promise<(GreeterCallResult & { instances: readonly ServiceInstance[] }) | undefined> {
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

async function greetOnce(
  rt: GatewayRuntime,
  name: string,
  remainingMs: () => number | undefined,
  metadata: Readonly<Record<string, string>> | undefined,
): Promise<GreetResult> {
  // A cold start discovers the default query alongside the config read (kept if the config agrees).
  const loaded = await rt.beginDiscovering(greeterQuery, { leaseInParallel: true });
  const cfg = loaded.values;
  const query = greeterQuery(cfg);
  const watch = rt.watches.get(query);
  watch.ensureFresh();
  // Started before discovery is awaited, so a cold start fetches both at once; warm, it is cached.
  const identity = query.connect ? gatewayIdentity(cfg) : undefined;
  const certs = identity ? rt.connectCertificates(identity) : undefined;
  const tlsName = cfg.greeterTransport === 'tls' ? greeterTlsServerName(cfg) : undefined;
  const ca = tlsName ? rt.greeterCa() : undefined;
  // Awaited below, after discovery; until then a failed read must not count as unhandled.
  ca?.catch(() => undefined);
  // Config that could not be read at all has spent the cold-start budget already: keep the answer within ~2 s.
  const coldWait = loaded.index === undefined ? Math.min(cfg.coldStartWaitMs, UNREACHABLE_DISCOVERY_WAIT_MS) : cfg.coldStartWaitMs;
  const instances = watch.current() ?? (await watch.waitForFirst(callBudgetMs(coldWait, remainingMs(), cfg.deadlineMarginMs)));
  const details = {
    retryAfterSeconds: cfg.retryAfterSeconds,
    backendService: query.service,
    ...(identity ? { sourceIdentity: identity } : {}),
  };
  coldStartTrace.mark('discovery');
  rt.metrics.level('InstancesDiscovered', instances?.length ?? 0);
  if (!instances?.length) throw new GreetError('no_healthy_instance', `no healthy instance of ${query.service}`, details);
  let creds: (() => ChannelCredentials) | undefined;
  if (certs) {
    // Only a cold start waits here: afterwards the background watches keep the material current.
    if (!certs.current()) await certs.ready(callBudgetMs(coldWait, remainingMs(), cfg.deadlineMarginMs));
    if (!certs.current()) throw new GreetError('unavailable', `no Connect certificate for ${identity} yet`, details);
    creds = () => connectChannelCredentials(certs, query.service);
  } else if (ca && tlsName) {
    const pem = await ca;
    creds = () => greeterTlsCredentials(pem, tlsName);
  }
  // Read the Lambda's remaining time now: a cold start may have used some of it.
  const budget = callBudgetMs(cfg.callDeadlineMs, remainingMs(), cfg.deadlineMarginMs);
  const transport = tlsName ? { tlsServerName: tlsName } : {};
  const target = consulTarget(query, transport);
  const client = rt.clients.get(target, cfg.channelMaxIdleMs, creds);
  coldStartTrace.markWhenReady('connect', client);
  const started = Date.now();
  const deadline = started + budget;
  const { failover = [], ...single } = query;
  try {
    const call = await callAcrossDatacenters({
      first: async () => ({
        ...(await sayHello(client, name, {
          deadline,
          newChannel: rt.clients.isNew(target),
          allRefused: () => rt.clients.allRefused(target),
          metadata,
        })),
        instances: watch.current() ?? instances,
      }),
      // The watch serves a failover datacenter's list once Consul marked every local instance critical.
      servedDatacenter: instances[0]?.datacenter,
      failover,
      deadline,
      inDatacenter: (dc) =>
        callInDatacenter(rt, { ...single, datacenter: dc }, name, {
          deadline,
          transport,
          maxIdleMs: cfg.channelMaxIdleMs,
          creds,
          metadata,
        }),
      budgetAllows: (lostInFailover) => rt.callPolicy.allowsFailover(lostInFailover),
      // An address that refused a call is news for sources that cache (DNS, Cloud Map): re-resolve now.
      onUnavailable: () => rt.watches.invalidate(query),
    });
    const res = call.result;
    coldStartTrace.mark('call');
    coldStartTrace.end(rt.log);
    // A failed-over call's time is mostly the other datacenter's distance: it would skew the local hedging delay.
    rt.callPolicy.record({
      ok: true,
      attempts: call.attempts,
      failoverAttempts: call.failoverAttempts,
      ...(call.failedOver ? {} : { latencyMs: Date.now() - started }),
    });
    if (call.failedOver) noteFailover(rt, { service: query.service, from: instances[0]?.datacenter ?? 'local', to: call.datacenter });
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
  } catch (err) {
    if (!(err instanceof GreeterCallError)) throw err;
    rt.callPolicy.record({ ok: false, attempts: err.attempts, failoverAttempts: err.failoverAttempts });
    const kind = err.kind === 'permission_denied' ? (identity ? 'forbidden_by_intention' : 'backend') : err.kind;
    const message = {
      unavailable: `every attempt to reach ${query.service} failed`,
      deadline: `${query.service} did not answer within ${budget} ms`,
      forbidden_by_intention: `Consul intentions do not allow ${identity ?? ''} to call ${query.service}`,
      backend: `${query.service} failed the call (${statusName(err.grpcCode)})`,
    }[kind];
    throw new GreetError(kind, message, { ...details, attempts: err.attempts }, { cause: err });
  }
}
