/**
 * The generic route's use case: an HTTP request → the allowed method it names → its input message →
 * one call through the mapped Consul service's channel (hedged only for idempotent methods) within
 * the Lambda's remaining time → the reply in proto3 JSON. Failures are RpcError (the route's own) or
 * RpcStatusError (the backend's status); the edge maps both.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { status as grpcStatus, type Metadata } from '@grpc/grpc-js';
import { toJson, type JsonValue, type Message } from '@bufbuild/protobuf';
import { consulTarget } from '../grpc/consul-target';
import { callAcrossDatacenters } from '../grpc/datacenter-failover';
import { callBudgetMs } from '../grpc/deadline';
import { GreeterCallError, statusName } from '../grpc/errors';
import { outgoingTraceHeaders } from '../tracing/propagation';
import { backoffMs } from '../util/backoff';
import type { TraceContext } from '../tracing/trace-context';
import type { RpcMethod } from './descriptors';
import { RpcError, RpcStatusError } from './errors';
import { forwardedMetadata, isAllowed } from './exposure';
import type { RpcConfig } from './rpc-config';
import type { RpcRuntime } from './rpc-runtime';
import { requestMessage, type RequestParts } from './request-message';
import { routeQuery, serviceRoute } from './service-map';
import { credentialsFor } from './transport';
import { reflectAllowed } from './reflect-allowed';
import { backendStatus } from './status';
import { unaryCall } from './unary-call';
import type { RouteMatch } from './routes';
import type { MethodName } from './method-policy';

/** An HTTP request as the route reads it. */
export interface RpcRequest extends RequestParts {
  httpMethod: string;
  /** The raw path, without the query string. */
  path: string;
  headers?: Record<string, string | undefined> | null;
}

/** A served call: the reply as proto3 JSON, and how many attempts it took. */
export interface RpcAnswer {
  body: JsonValue;
  method: string;
  attempts: number;
}

/** The one answer for every request that names nothing callable, so none reveals what exists. */
const NOT_FOUND = 'no such route';

/** The allowed unary method the request names; throws RpcError not_found (or unimplemented for a streaming one). */
export function resolveMethod(rt: Pick<RpcRuntime, 'routes'>, cfg: Pick<RpcConfig, 'rpcAllow'>, req: RpcRequest): RouteMatch {
  const match = rt.routes.match(req.httpMethod, req.path);
  if (!match || !isAllowed(cfg.rpcAllow, match.method.name)) throw new RpcError('not_found', NOT_FOUND);
  if (match.method.desc.methodKind !== 'unary')
    throw new RpcError(
      'unimplemented',
      `${match.method.name} is ${match.method.desc.methodKind.replace('_', '-')}: this route serves unary methods only`,
    );
  return match;
}

/** Calls the method `req` names; throws RpcError or RpcStatusError. With `trace`, every attempt carries its context. */
export async function invokeRpc(
  rt: RpcRuntime,
  req: RpcRequest,
  remainingMs: () => number | undefined,
  trace?: TraceContext,
): Promise<RpcAnswer> {
  const t0 = performance.now();
  try {
    const loaded = await rt.begin({ leaseInParallel: true });
    const cfg = loaded.values;
    if (cfg.rpcReflection) await reflectAllowed(rt, cfg, remainingMs);
    const match = resolveMethod(rt, cfg, req);
    const request = requestMessage(match, req);
    const metadata = { ...forwardedMetadata(req.headers, cfg.rpcForwardHeaders), ...(trace ? await outgoingTraceHeaders(trace) : {}) };
    const answer = await call(rt, cfg, match.method, request, metadata, remainingMs);
    rt.metrics.latency('RpcLatency', performance.now() - t0);
    rt.metrics.level('RpcAttempts', answer.attempts);
    return answer;
  } catch (err) {
    rt.metrics.count('RpcErrors');
    throw err;
  } finally {
    await rt.leaseSettled();
    rt.metrics.flush();
  }
}

/** The idempotent methods of the method's service, as the hedging policy names them. */
function idempotentMethods(rt: RpcRuntime, method: RpcMethod): MethodName[] {
  const service = method.service.typeName;
  return rt.descriptors
    .methods()
    .filter((m) => m.service.typeName === service && m.idempotent)
    .map((m) => ({ service, method: m.desc.name }));
}

async function call(
  rt: RpcRuntime,
  cfg: RpcConfig,
  method: RpcMethod,
  request: Message,
  metadata: Record<string, string>,
  remainingMs: () => number | undefined,
): Promise<RpcAnswer> {
  const grpcService = method.service.typeName;
  const route = serviceRoute(cfg.rpcServices, grpcService);
  const query = routeQuery(route);
  const watch = rt.watches.get(query);
  watch.ensureFresh();
  const coldWait = () => callBudgetMs(cfg.coldStartWaitMs, remainingMs(), cfg.deadlineMarginMs);
  const details = { retryAfterSeconds: cfg.retryAfterSeconds, backendService: route.service };
  const instances = watch.current() ?? (await watch.waitForFirst(coldWait()));
  if (!instances?.length) throw new RpcError('no_healthy_instance', `no healthy instance of ${route.service}`, details);
  const { creds, tlsServerName, identity } = await credentialsFor(rt, cfg, route, coldWait);
  const policy = rt.channels.policy(grpcService, idempotentMethods(rt, method));
  const transport = tlsServerName ? { tlsServerName } : {};
  const schemas = { input: method.desc.input, output: method.desc.output };
  const budget = callBudgetMs(cfg.callDeadlineMs, remainingMs(), cfg.deadlineMarginMs);
  const started = Date.now();
  const deadline = started + budget;
  const callIn = async (q: typeof query) => {
    const target = consulTarget(q, transport);
    const client = rt.channels.get(grpcService, target, policy, cfg.channelMaxIdleMs, creds);
    const once = () => unaryCall(client, method.path, request, schemas, { deadline, metadata });
    try {
      return await once();
    } catch (err) {
      // As for SayHello (lib/grpc/greeter-call.ts): on a new channel only the first instance to connect is
      // READY, so every hedged attempt may have met it; an idempotent call goes once more after 20–40 ms,
      // when the others have had time to connect, unless every instance already refused.
      const pause = backoffMs(2, 20, 40);
      const again =
        method.idempotent &&
        err instanceof GreeterCallError &&
        err.grpcCode === grpcStatus.UNAVAILABLE &&
        rt.channels.isNew(grpcService, target) &&
        !rt.channels.allRefused(grpcService, target) &&
        Date.now() + pause < deadline;
      if (!again) throw err;
      await sleep(pause);
      try {
        const second = await once();
        return { ...second, attempts: second.attempts + err.attempts };
      } catch (last) {
        if (!(last instanceof GreeterCallError)) throw last;
        throw new GreeterCallError(last.kind, last.grpcCode, last.attempts + err.attempts, last.message, { cause: last.cause });
      }
    }
  };
  const { failover = [], ...single } = query;
  try {
    // Only a method that may run twice moves to another datacenter after every local attempt was UNAVAILABLE.
    const done = await callAcrossDatacenters({
      first: () => callIn(query),
      servedDatacenter: instances[0]?.datacenter,
      failover: method.idempotent ? failover : [],
      deadline,
      inDatacenter: async (dc) => {
        const q = { ...single, datacenter: dc };
        const w = rt.watches.get(q);
        w.ensureFresh();
        const there = w.current() ?? (await w.waitForFirst(Math.max(0, deadline - Date.now())));
        return there?.length ? callIn(q) : undefined;
      },
      budgetAllows: (lost) => policy.allowsFailover(lost),
      onUnavailable: () => rt.watches.invalidate(query),
    });
    policy.record({
      ok: true,
      attempts: done.attempts,
      failoverAttempts: done.failoverAttempts,
      ...(done.failedOver ? {} : { latencyMs: Date.now() - started }),
    });
    return {
      body: toJson(method.desc.output, done.result.reply, { registry: rt.descriptors.registry }),
      method: method.name,
      attempts: done.attempts,
    };
  } catch (err) {
    if (!(err instanceof GreeterCallError)) throw err;
    policy.record({ ok: false, attempts: err.attempts, failoverAttempts: err.failoverAttempts });
    const withAttempts = { ...details, attempts: err.attempts };
    if (err.grpcCode === grpcStatus.UNAVAILABLE)
      throw new RpcError('unavailable', `every attempt to reach ${route.service} failed`, withAttempts, { cause: err });
    if (err.grpcCode === grpcStatus.DEADLINE_EXCEEDED)
      throw new RpcError('deadline', `${route.service} did not answer within ${budget} ms`, withAttempts, { cause: err });
    if (err.grpcCode === grpcStatus.PERMISSION_DENIED && identity)
      throw new RpcError('forbidden_by_intention', `Consul intentions do not allow ${identity} to call ${route.service}`, withAttempts, {
        cause: err,
      });
    const trailers = (err.cause as { metadata?: Metadata } | undefined)?.metadata;
    const status = backendStatus(rt.descriptors, err.grpcCode, err.message || statusName(err.grpcCode), trailers);
    throw new RpcStatusError(err.grpcCode, status, err.attempts, route.service, { cause: err });
  }
}
