/**
 * The generic route's use case: an HTTP request → the allowed method it names → its input message →
 * one call through the mapped Consul service's channel (hedged only for idempotent methods) within
 * the Lambda's remaining time → the reply in proto3 JSON. Failures are RpcError (the route's own) or
 * RpcStatusError (the backend's status); the edge maps both.
 */
import { status as grpcStatus, type Metadata } from '@grpc/grpc-js';
import { fromBinary, toBinary, toJson, type JsonValue, type Message } from '@bufbuild/protobuf';
import { statusName } from '../grpc/errors';
import type { MethodName } from '../grpc/method-call-policy';
import type { UnaryMethod } from '../grpc/unary-call';
import { InvokeError, invokeUnary } from '../runtime/gateway-invoker';
import { presentedIdentity } from '../runtime/gateway-keys';
import { outgoingTraceHeaders } from '../tracing/propagation';
import type { TraceContext } from '../tracing/trace-context';
import type { RpcMethod } from './descriptors';
import { isServingFailure, RpcError, RpcStatusError } from './errors';
import { forwardedMetadata, isAllowed } from './exposure';
import type { RpcConfig } from './rpc-config';
import type { RpcRuntime } from './rpc-runtime';
import { requestMessage, type RequestParts } from './request-message';
import { callRoute, serviceRoute } from './service-map';
import { reflectAllowed } from './reflect-allowed';
import { backendStatus } from './status';
import type { RouteMatch } from './routes';

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
    const loaded = rt.beginWarm() ?? (await rt.begin({ leaseInParallel: true }));
    const cfg = loaded.values;
    if (cfg.rpcReflection) await reflectAllowed(rt, cfg, remainingMs);
    const match = resolveMethod(rt, cfg, req);
    const request = requestMessage(match, req);
    const metadata = { ...forwardedMetadata(req.headers, cfg.rpcForwardHeaders), ...(trace ? await outgoingTraceHeaders(trace) : {}) };
    const answer = await call(rt, cfg, match.method, request, metadata, remainingMs, loaded.index !== undefined);
    rt.metrics.latency('RpcLatency', performance.now() - t0);
    rt.metrics.level('RpcAttempts', answer.attempts);
    return answer;
  } catch (err) {
    rt.metrics.count('RpcErrors');
    if (isServingFailure(err)) rt.metrics.count('RpcFailures');
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

/** The method as the invoker calls it, its messages encoded by @bufbuild/protobuf against the descriptors. */
function unaryMethod(method: RpcMethod): UnaryMethod<Message, Message> {
  const { input, output } = method.desc;
  return {
    service: method.service.typeName,
    method: method.desc.name,
    path: method.path,
    idempotent: method.idempotent,
    serialize: (m) => Buffer.from(toBinary(input, m)),
    deserialize: (bytes) => fromBinary(output, bytes),
  };
}

async function call(
  rt: RpcRuntime,
  cfg: RpcConfig,
  method: RpcMethod,
  request: Message,
  metadata: Record<string, string>,
  remainingMs: () => number | undefined,
  configRead: boolean,
): Promise<RpcAnswer> {
  const route = serviceRoute(cfg.rpcServices, method.service.typeName);
  const details = { retryAfterSeconds: cfg.retryAfterSeconds, backendService: route.service };
  try {
    const done = await invokeUnary(rt, cfg, {
      method: unaryMethod(method),
      hedged: idempotentMethods(rt, method),
      request,
      route: callRoute(route, presentedIdentity(cfg)),
      metadata,
      remainingMs,
      configRead,
    });
    return {
      body: toJson(method.desc.output, done.reply, { registry: rt.descriptors.registry }),
      method: method.name,
      attempts: done.attempts,
    };
  } catch (e) {
    if (!(e instanceof InvokeError)) throw e;
    if (e.kind === 'no_healthy_instance') throw new RpcError('no_healthy_instance', e.message, details);
    const err = e.facts.call;
    if (e.kind === 'no_certificate' || !err) throw new RpcError('unavailable', e.message, details);
    const withAttempts = { ...details, attempts: err.attempts };
    if (err.grpcCode === grpcStatus.UNAVAILABLE)
      throw new RpcError('unavailable', `every attempt to reach ${route.service} failed`, withAttempts, { cause: err });
    if (err.grpcCode === grpcStatus.DEADLINE_EXCEEDED)
      throw new RpcError('deadline', `${route.service} did not answer within ${e.facts.budgetMs ?? 0} ms`, withAttempts, { cause: err });
    if (err.grpcCode === grpcStatus.PERMISSION_DENIED && e.facts.identity)
      throw new RpcError(
        'forbidden_by_intention',
        `Consul intentions do not allow ${e.facts.identity} to call ${route.service}`,
        withAttempts,
        {
          cause: err,
        },
      );
    const trailers = (err.cause as { metadata?: Metadata } | undefined)?.metadata;
    const status = backendStatus(rt.descriptors, err.grpcCode, err.message || statusName(err.grpcCode), trailers);
    throw new RpcStatusError(err.grpcCode, status, err.attempts, route.service, { cause: err });
  }
}
