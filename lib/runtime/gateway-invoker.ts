/**
 * The one way a function calls a unary method of a backend found through discovery (greet's SayHello,
 * any method of the rpc route): the passing instances of the route's query (a cold start waits for the
 * first answer), the transport's credentials requested beside that wait, one deadline from the
 * Lambda's remaining time covering every attempt, the gRPC service's channel and call policy (grpc-js
 * hedges only the methods marked IDEMPOTENT or NO_SIDE_EFFECTS), and, for those methods only, a second
 * try on a new channel and the move to a failover datacenter when every local attempt was UNAVAILABLE.
 * Failures are InvokeError; each use case words them in its own errors.
 */
import type { ServiceInstance } from '../consul/service-instances';
import type { ServiceQuery } from '../discovery/service-query';
import { AppError } from '../errors/app-error';
import { consulTarget } from '../grpc/consul-target';
import { callAcrossDatacenters } from '../grpc/datacenter-failover';
import { callBudgetMs } from '../grpc/deadline';
import { GreeterCallError } from '../grpc/errors';
import type { MethodName } from '../grpc/method-call-policy';
import { unaryCall, type UnaryMethod } from '../grpc/unary-call';
import type { Log } from '../log/logger';
import type { ColdStartTrace } from './cold-start-trace';
import type { GatewayCalls } from './gateway-calls';
import { requestCredentials, type CallRoute } from './gateway-credentials';
import type { CallConfig } from './gateway-keys';

/** Longest a cold start waits for discovery once config found Consul unreachable. */
const UNREACHABLE_DISCOVERY_WAIT_MS = 400;

/** Why a call could not be served: no passing instance, no Connect certificate yet, or the call failed (`call`). */
export type InvokeErrorKind = 'no_healthy_instance' | 'no_certificate' | 'call_failed';

/** A failed invocation, with what a use case needs to word it. */
export class InvokeError extends AppError<InvokeErrorKind> {
  override name = 'InvokeError';
  readonly domain = 'gateway';
  constructor(
    kind: InvokeErrorKind,
    message: string,
    readonly facts: {
      /** The Consul service the call was routed to. */
      service: string;
      /** The Connect identity presented (connect transport only). */
      identity?: string;
      /** The call's deadline budget (call_failed). */
      budgetMs?: number;
      /** The gRPC adapter's classification of the failed call (call_failed). */
      call?: GreeterCallError;
    },
    options?: { cause?: unknown },
  ) {
    super(kind, message, options);
  }
}

/** One call to make. */
export interface Invocation<Req, Res> {
  method: UnaryMethod<Req, Res>;
  /** The gRPC service's methods its call policy hedges (fixed when its first call creates the policy). */
  hedged: readonly MethodName[];
  request: Req;
  route: CallRoute;
  /** Entries of every attempt's metadata (trace context, forwarded headers). */
  metadata?: Readonly<Record<string, string>>;
  remainingMs: () => number | undefined;
  /** Whether the config came from Consul (false: Consul was unreachable, and a cold start waits less for discovery). */
  configRead: boolean;
  /** Told the instance list once discovery answered (or gave up: empty). */
  onDiscovered?: (instances: readonly ServiceInstance[]) => void;
}

/** A served call: the reply, the peer and the instances of the datacenter that answered, and every attempt it took. */
export interface Invoked<Res> {
  reply: Res;
  peer: string;
  instances: readonly ServiceInstance[];
  attempts: number;
  /** True when a failover datacenter answered (`datacenter`). */
  failedOver: boolean;
  datacenter: string | undefined;
  /** The datacenter of the list the call went to first (`undefined`: local). */
  firstDatacenter: string | undefined;
}

/** What an invocation reads from the function's runtime. */
export type InvokerRuntime = Pick<GatewayCalls, 'watches' | 'channels' | 'connectCertificates' | 'backendCa'> & {
  log: Log;
  coldStart: ColdStartTrace;
};

/** Makes the call; throws InvokeError. */
export async function invokeUnary<Req, Res>(rt: InvokerRuntime, cfg: CallConfig, inv: Invocation<Req, Res>): Promise<Invoked<Res>> {
  const { query } = inv.route;
  const service = query.service;
  const watch = rt.watches.get(query);
  watch.ensureFresh();
  const pending = requestCredentials(rt, inv.route);
  const identity = pending.identity;
  // Config that could not be read at all has spent the cold-start budget already: keep the answer within ~2 s.
  const coldWait = inv.configRead ? cfg.coldStartWaitMs : Math.min(cfg.coldStartWaitMs, UNREACHABLE_DISCOVERY_WAIT_MS);
  const waitMs = () => callBudgetMs(coldWait, inv.remainingMs(), cfg.deadlineMarginMs);
  const instances = watch.current() ?? (await watch.waitForFirst(waitMs()));
  rt.coldStart.mark('discovery');
  inv.onDiscovered?.(instances ?? []);
  if (!instances?.length) throw new InvokeError('no_healthy_instance', `no healthy instance of ${service}`, { service, identity });
  const { creds, missing } = pending.ready ?? (await pending.settle(waitMs));
  if (missing) throw new InvokeError('no_certificate', missing, { service, identity });
  const policy = rt.channels.policy(inv.method.service, inv.hedged);
  const transport = pending.tlsServerName ? { tlsServerName: pending.tlsServerName } : {};
  // Read the Lambda's remaining time now: a cold start may have used some of it.
  const budgetMs = callBudgetMs(cfg.callDeadlineMs, inv.remainingMs(), cfg.deadlineMarginMs);
  const started = Date.now();
  const deadline = started + budgetMs;
  const callIn = async (q: ServiceQuery, listed: () => readonly ServiceInstance[], first: boolean) => {
    const target = consulTarget(q, transport);
    const client = rt.channels.get(inv.method.service, target, cfg.channelMaxIdleMs, creds);
    if (first) rt.coldStart.markWhenReady('connect', client);
    const res = await unaryCall(client, inv.method, inv.request, {
      deadline,
      newChannel: rt.channels.isNew(inv.method.service, target),
      allRefused: () => rt.channels.allRefused(inv.method.service, target),
      ...(inv.metadata ? { metadata: inv.metadata } : {}),
    });
    return { reply: res.reply, peer: res.peer, attempts: res.attempts, instances: listed() };
  };
  try {
    const done = await callAcrossDatacenters({
      first: () => callIn(query, () => watch.current() ?? instances, true),
      // The watch serves a failover datacenter's list once Consul marked every local instance critical.
      servedDatacenter: instances[0]?.datacenter,
      // Only a method that may run twice moves to another datacenter after every local attempt was UNAVAILABLE.
      failover: inv.method.idempotent ? (query.failover ?? []) : [],
      deadline,
      inDatacenter: (dc) => {
        const { failover: _all, ...single } = query;
        return callInDatacenter(rt, { ...single, datacenter: dc }, deadline, callIn);
      },
      budgetAllows: (lostInFailover) => policy.allowsFailover(lostInFailover),
      // An address that refused a call is news for sources that cache (DNS, Cloud Map): re-resolve now.
      onUnavailable: () => rt.watches.invalidate(query),
    });
    rt.coldStart.mark('call');
    rt.coldStart.end(rt.log);
    // A failed-over call's time is mostly the other datacenter's distance: it would skew the local hedging delay.
    policy.record({
      ok: true,
      attempts: done.attempts,
      failoverAttempts: done.failoverAttempts,
      ...(done.failedOver ? {} : { latencyMs: Date.now() - started }),
    });
    const r = done.result;
    return {
      reply: r.reply,
      peer: r.peer,
      instances: r.instances,
      attempts: done.attempts,
      failedOver: done.failedOver,
      datacenter: done.datacenter,
      firstDatacenter: instances[0]?.datacenter,
    };
  } catch (err) {
    if (!(err instanceof GreeterCallError)) throw err;
    policy.record({ ok: false, attempts: err.attempts, failoverAttempts: err.failoverAttempts });
    throw new InvokeError('call_failed', err.message, { service, identity, budgetMs, call: err }, { cause: err });
  }
}

/**
 * The call in failover datacenter `q.datacenter`, through its own channel and watch; undefined when it
 * has no passing instance. The watch is the one FailoverWatch keeps for that datacenter: it starts here
 * at the first call that fails over (if Consul had not emptied the local list before), then keeps
 * following, so the next outage finds the list warm.
 */
async function callInDatacenter<R>(
  rt: InvokerRuntime,
  q: ServiceQuery,
  deadline: number,
  callIn: (q: ServiceQuery, listed: () => readonly ServiceInstance[], first: boolean) => Promise<R>,
): Promise<R | undefined> {
  const watch = rt.watches.get(q);
  watch.ensureFresh();
  const there = watch.current() ?? (await watch.waitForFirst(Math.max(0, deadline - Date.now())));
  if (!there?.length) return undefined;
  return callIn(q, () => there, false);
}
