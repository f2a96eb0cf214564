/**
 * Endpoints node-consul has no method for (the ACL policy and token API, /status/leader), sent through papi,
 * the HTTP client node-consul is built on, and the X-Consul-* headers that say which index an answer is at
 * and how fresh the server that gave it was.
 */
import type { EventEmitter } from 'node:events';
import type { RawConsulClient, RawMiddleware, RawRequest, RawWithResponse } from './raw-client';

/** One call to an endpoint by method and path, with a JSON body. */
export interface RawEndpointRequest {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  path: string;
  /** Query parameters (encoded here). */
  query?: Record<string, string>;
  body?: unknown;
}

/** A call result with the X-Consul-Index that came with it, and how fresh a server said it was. */
export interface Indexed<T> {
  value: T;
  index: string;
  /** X-Consul-KnownLeader: false when the answering server knew of no leader (a stale read during an election). */
  knownLeader?: boolean;
  /** X-Consul-LastContact: ms since the answering server last heard from the leader (0 on the leader). */
  lastContactMs?: number;
}

const bodyOrError: RawMiddleware = (request, next) => (request.err ? next(false, request.err) : next(false, undefined, request.res?.body));
/** Like bodyOrError, but keeps the response (headers) as readIndexed expects it. */
const responseAndBody: RawMiddleware = (request, next) =>
  request.err ? next(false, request.err) : next(false, undefined, [request.res, request.res?.body]);

/** Sends `req` on `client` as the operation named `operation`; resolves to the answer's body. The client's default token reaches its own methods only, so `token` is sent here. */
export function sendRaw(
  client: RawConsulClient,
  operation: string,
  req: RawEndpointRequest,
  ctx: EventEmitter,
  token: string | undefined,
): Promise<unknown> {
  const raw = rawRequest(operation, req, ctx, token);
  if (req.method === 'GET') return client._get(raw, bodyOrError);
  if (req.method === 'PUT') return client._put(raw, bodyOrError);
  if (req.method === 'POST') return client._post(raw, bodyOrError);
  return client._delete(raw, bodyOrError);
}

/** A GET like sendRaw's that resolves to the response and the body, for readIndexed (`ctx.includeResponse` set). */
export function getRawWithResponse(
  client: RawConsulClient,
  operation: string,
  req: Omit<RawEndpointRequest, 'method' | 'body'>,
  ctx: EventEmitter,
  token: string | undefined,
): Promise<unknown> {
  return client._get(rawRequest(operation, req, ctx, token), responseAndBody);
}

/** The body of an answer fetched with its response, with the index and freshness its headers give. */
export function readIndexed(answer: unknown): Indexed<unknown> {
  const [res, value] = answer as RawWithResponse;
  const header = (name: string) => {
    const h = res.headers[name];
    return Array.isArray(h) ? h[0] : h;
  };
  const lastContact = Number(header('x-consul-lastcontact'));
  return {
    value,
    index: header('x-consul-index') ?? '0',
    knownLeader: header('x-consul-knownleader') === undefined ? undefined : header('x-consul-knownleader') === 'true',
    lastContactMs: Number.isFinite(lastContact) ? lastContact : undefined,
  };
}

function rawRequest(operation: string, req: Omit<RawEndpointRequest, 'method'>, ctx: EventEmitter, token: string | undefined): RawRequest {
  return {
    name: operation,
    path: req.path,
    ctx,
    headers: token ? { 'x-consul-token': token } : ({} as Record<string, string>),
    ...(req.query ? { query: req.query } : {}),
    ...(req.body === undefined ? {} : { type: 'json' as const, body: req.body }),
  };
}
