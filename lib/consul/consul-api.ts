/**
 * A small typed facade over the `consul` npm client for the calls this project makes.
 *
 * Why a facade: the client's typings return `any` for most bodies, do not expose
 * response headers (X-Consul-Index) without a context object, and have no
 * per-call cancellation through AbortSignal. Every call here has a timeout,
 * maps failures to ConsulRequestError once, and is counted per operation so
 * tests and /status can show how many requests a code path made.
 */
import { EventEmitter } from 'node:events';
import Consul from 'consul';
import { parseConsulAddress } from './consul-address';
import type { RawConsulClient, RawMiddleware, RawWithResponse } from './raw-client';
import { ConsulRequestError, ConsulTimeoutError } from './errors';

/** How to reach Consul and with which ACL token. */
export interface ConsulConnection {
  address: string;
  /** The token, or a function giving it once it is known (it may come from SSM after start-up). */
  token?: string | (() => string | undefined);
  /** Timeout for ordinary (non-blocking) calls. */
  timeoutMs?: number;
}

/** Per-call options shared by every operation. */
export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** A call result with the X-Consul-Index that came with it. */
export interface Indexed<T> {
  value: T;
  index: string;
}

/** One raw K/V pair as Consul returns it (value already base64-decoded). */
export interface KvPair {
  key: string;
  value: string;
  modifyIndex: number;
}

/** A Consul client bound to one address and token. */
export interface ConsulApi {
  readonly address: string;
  /** Number of HTTP requests started, per operation name. */
  readonly requestCounts: ReadonlyMap<string, number>;
  /** Runs a raw call through the shared timeout/cancel/error mapping. */
  call<T>(operation: string, opts: CallOptions, run: (client: RawConsulClient, ctx: EventEmitter) => Promise<T>): Promise<T>;
  /** Like `call`, but returns the body with the X-Consul-Index header (`ctx` must be passed on). */
  callIndexed(operation: string, opts: CallOptions, run: (client: RawConsulClient, ctx: EventEmitter) => Promise<unknown>): Promise<Indexed<unknown>>;
  /** An endpoint node-consul has no method for, through the same mapping; `path` is below /v1 and URL-encoded. */
  request(operation: string, opts: CallOptions, req: RawEndpointRequest): Promise<unknown>;
  destroy(): void;
}

/** One call to an endpoint by method and path, with a JSON body. */
export interface RawEndpointRequest {
  method: 'GET' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
}

const DEFAULT_TIMEOUT_MS = 2_000;

/** Creates a ConsulApi; `token` is sent as X-Consul-Token and never logged. */
export function createConsulApi(conn: ConsulConnection): ConsulApi {
  const { host, port, secure } = parseConsulAddress(conn.address);
  // Created on first use, so a token resolved after start-up (SSM) is the one sent.
  let client: RawConsulClient | undefined;
  let token: string | undefined;
  const getClient = () => {
    if (!client) {
      token = typeof conn.token === 'function' ? conn.token() : conn.token;
      client = new Consul({ host, port, secure, defaults: token ? { token } : {} }) as unknown as RawConsulClient;
    }
    return client;
  };
  const counts = new Map<string, number>();
  const defaultTimeout = conn.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  async function exec<T>(operation: string, opts: CallOptions, includeResponse: boolean, run: (c: RawConsulClient, ctx: EventEmitter) => Promise<T>): Promise<T> {
    counts.set(operation, (counts.get(operation) ?? 0) + 1);
    const timeoutMs = opts.timeoutMs ?? defaultTimeout;
    // node-consul cancels a request when its context emits 'cancel'.
    const ctx = Object.assign(new EventEmitter(), { includeResponse });
    let reason: 'timeout' | 'aborted' | undefined;
    const cancel = (why: 'timeout' | 'aborted') => {
      reason ??= why;
      ctx.emit('cancel');
    };
    // clearTimeout on a plain timer is cheaper than AbortSignal.timeout per call.
    const timer = setTimeout(() => cancel('timeout'), timeoutMs);
    const onAbort = () => cancel('aborted');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (opts.signal?.aborted) throw new ConsulTimeoutError(operation, 'aborted before start');
      return await run(getClient(), ctx);
    } catch (err) {
      if (err instanceof ConsulRequestError) throw err;
      if (reason === 'timeout') throw new ConsulTimeoutError(operation, `timed out after ${timeoutMs} ms`);
      if (reason === 'aborted') throw new ConsulTimeoutError(operation, 'aborted');
      throw toConsulError(operation, err);
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  return {
    address: `${secure ? 'https' : 'http'}://${host}:${port}`,
    requestCounts: counts,
    call: (operation, opts, run) => exec(operation, opts, false, run),
    async callIndexed(operation, opts, run) {
      const [res, value] = (await exec(operation, opts, true, run)) as RawWithResponse;
      const header = res.headers['x-consul-index'];
      return { value, index: Array.isArray(header) ? (header[0] ?? '0') : (header ?? '0') };
    },
    request(operation, opts, req) {
      return exec(operation, opts, false, (c, ctx) => {
        const raw = { name: operation, path: req.path, ctx, headers: token ? { 'x-consul-token': token } : ({} as Record<string, string>), ...(req.body === undefined ? {} : { type: 'json' as const, body: req.body }) };
        if (req.method === 'GET') return c._get(raw, bodyOrError);
        if (req.method === 'PUT') return c._put(raw, bodyOrError);
        return c._delete(raw, bodyOrError);
      });
    },
    destroy: () => client?.destroy(),
  };
}

const bodyOrError: RawMiddleware = (request, next) => (request.err ? next(false, request.err) : next(false, undefined, request.res?.body));

function toConsulError(operation: string, err: unknown): ConsulRequestError {
  const statusCode = readStatusCode(err);
  const message = err instanceof Error ? err.message : String(err);
  // No `cause`: the client's error holds the raw request, X-Consul-Token header included,
  // and a logger that serialises causes would print it. Status and first line are enough.
  return new ConsulRequestError(operation, message.split('\n')[0]?.slice(0, 300) ?? 'failed', statusCode);
}

function readStatusCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const direct = (err as { statusCode?: unknown }).statusCode;
  if (typeof direct === 'number') return direct;
  const res = (err as { response?: { statusCode?: unknown } }).response;
  return typeof res?.statusCode === 'number' ? res.statusCode : undefined;
}
