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
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import Consul from 'consul';
import { consulAddressUrl, parseConsulAddresses, type ConsulAddress } from './consul-address';
import type { RawConsulClient, RawMiddleware, RawWithResponse } from './raw-client';
import { backoffMs } from '../util/backoff';
import { ConsulRequestError, ConsulTimeoutError, ConsulTlsError } from './errors';

/** How to reach Consul and with which ACL token. */
export interface ConsulConnection {
  /** One address, or a comma-separated list tried in order when one stops answering. */
  address: string;
  /** The token, or a function giving it once it is known (it may come from SSM after start-up). */
  token?: string | (() => string | undefined);
  /** Timeout for ordinary (non-blocking) calls. */
  timeoutMs?: number;
  /**
   * How to verify an https agent (and prove who we are to one with verify_incoming), or a
   * function giving it once known (a CA from SSM). Read when the first client is built, like
   * the token. Without it an https address is verified against Node's default trust store;
   * verification is never turned off.
   */
  tls?: ConsulTls | (() => ConsulTls | undefined);
}

/** TLS material for https addresses: PEM text, not file paths (the caller reads files or SSM). */
export interface ConsulTls {
  /** CA certificate(s) that signed the agent's certificate (CONSUL_CACERT). */
  ca?: string;
  /** Client certificate and its key, for an agent with verify_incoming (CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY). */
  cert?: string;
  key?: string;
  /** The name the agent's certificate must carry, instead of the address's host; also sent as SNI (CONSUL_TLS_SERVER_NAME, or the functions' default server.dc1.consul). */
  serverName?: string;
}

/** Per-call options shared by every operation. */
export interface CallOptions {
  /** The whole budget of the call, every address tried included. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** A blocking query: one address gets the whole budget (a long poll is not a hang). */
  blocking?: boolean;
  /**
   * Retry a 5xx answer (no leader yet, or a forward to a leader that just died) with
   * backoff while the budget lasts: for writes that must not fail over an election.
   */
  retryServerErrors?: boolean;
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

/** One raw K/V pair as Consul returns it (value already base64-decoded). */
export interface KvPair {
  key: string;
  value: string;
  modifyIndex: number;
}

/** A Consul client bound to a list of addresses and one token. */
export interface ConsulApi {
  /** The address calls go to now; it moves to the next one when this one stops answering. */
  readonly address: string;
  /** How many times a call moved on to the next address. */
  readonly failovers: number;
  /** Number of HTTP requests started, per operation name. */
  readonly requestCounts: ReadonlyMap<string, number>;
  /** HTTP requests that failed: no answer, a timeout, an error status (not ones the caller cancelled). */
  readonly requestErrors: number;
  /** Of `requestErrors`, those Consul answered 429 (too many connections or requests from this IP). Optional for fakes. */
  readonly requestsThrottled?: number;
  /** Runs a raw call through the shared timeout/cancel/error mapping. */
  call<T>(operation: string, opts: CallOptions, run: (client: RawConsulClient, ctx: EventEmitter) => Promise<T>): Promise<T>;
  /** Like `call`, but returns the body with the X-Consul-Index header (`ctx` must be passed on). */
  callIndexed(
    operation: string,
    opts: CallOptions,
    run: (client: RawConsulClient, ctx: EventEmitter) => Promise<unknown>,
  ): Promise<Indexed<unknown>>;
  /** An endpoint node-consul has no method for, through the same mapping; `path` is below /v1 and URL-encoded. */
  request(operation: string, opts: CallOptions, req: RawEndpointRequest): Promise<unknown>;
  /** Like `request` (GET only), but returns the body with the X-Consul-Index header, for blocking queries. */
  requestIndexed(operation: string, opts: CallOptions, req: Omit<RawEndpointRequest, 'method' | 'body'>): Promise<Indexed<unknown>>;
  destroy(): void;
}

/** One call to an endpoint by method and path, with a JSON body. */
export interface RawEndpointRequest {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  path: string;
  /** Query parameters (encoded here). */
  query?: Record<string, string>;
  body?: unknown;
}

const DEFAULT_TIMEOUT_MS = 2_000;

/** Least time an attempt gets before the call moves on to the next address. */
const MIN_ATTEMPT_MS = 250;

/** Creates a ConsulApi; `token` is sent as X-Consul-Token and never logged. */
export function createConsulApi(conn: ConsulConnection): ConsulApi {
  const endpoints = parseConsulAddresses(conn.address);
  // Created on first use, so a token resolved after start-up (SSM) is the one sent. Two per
  // address: one for blocking queries (keep-alive), one for every other call (see `agentFor`).
  const clients: { long?: RawConsulClient; short?: RawConsulClient }[] = endpoints.map(() => ({}));
  let token: string | undefined;
  let tls: ConsulTls | undefined;
  let current = 0;
  let failovers = 0;
  let requestErrors = 0;
  let requestsThrottled = 0;
  const clientFor = (i: number, blocking: boolean): RawConsulClient => {
    if (clients.every((c) => c.long === undefined && c.short === undefined)) {
      token = typeof conn.token === 'function' ? conn.token() : conn.token;
      tls = typeof conn.tls === 'function' ? conn.tls() : conn.tls;
    }
    const slot = clients[i] ?? clients[0]!;
    const existing = blocking ? slot.long : slot.short;
    if (existing) return existing;
    const { host, port, secure } = endpoints[i] ?? endpoints[0]!;
    // node-consul hands `agent` to every request (papi); ours carries the TLS material and turns
    // verification on explicitly (see httpsOptions).
    const client = new Consul({
      host,
      port,
      secure,
      agent: agentFor(secure, blocking, tls),
      defaults: token ? { token } : {},
    }) as unknown as RawConsulClient;
    if (blocking) slot.long = client;
    else slot.short = client;
    return client;
  };
  const counts = new Map<string, number>();
  const defaultTimeout = conn.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  async function attempt<T>(
    operation: string,
    i: number,
    timeoutMs: number,
    opts: CallOptions,
    includeResponse: boolean,
    run: (c: RawConsulClient, ctx: EventEmitter) => Promise<T>,
  ): Promise<T> {
    counts.set(operation, (counts.get(operation) ?? 0) + 1);
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
      return await run(clientFor(i, opts.blocking === true), ctx);
    } catch (err) {
      if (reason !== 'aborted' && !opts.signal?.aborted) requestErrors++;
      if (err instanceof ConsulRequestError) {
        if (err.isThrottled) requestsThrottled++;
        throw err;
      }
      if (reason === 'timeout') throw new ConsulTimeoutError(operation, `timed out after ${timeoutMs} ms`);
      if (reason === 'aborted') throw new ConsulTimeoutError(operation, 'aborted');
      const mapped = toConsulError(operation, err, endpoints[i] ?? endpoints[0]!);
      if (mapped.isThrottled) requestsThrottled++;
      throw mapped;
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  // One budget for the whole call: an address that does not answer gets its share of
  // it, then the call moves on; the address it moved to is kept for later calls.
  async function exec<T>(
    operation: string,
    opts: CallOptions,
    includeResponse: boolean,
    run: (c: RawConsulClient, ctx: EventEmitter) => Promise<T>,
  ): Promise<T> {
    const deadline = Date.now() + (opts.timeoutMs ?? defaultTimeout);
    for (let serverErrors = 1; ; serverErrors++) {
      try {
        return await failover(operation, deadline, opts, includeResponse, run);
      } catch (err) {
        const pause = backoffMs(serverErrors, 50, 1_000);
        const serverError = err instanceof ConsulRequestError && (err.statusCode ?? 0) >= 500;
        if (!opts.retryServerErrors || !serverError || opts.signal?.aborted || Date.now() + pause + MIN_ATTEMPT_MS > deadline) throw err;
        await sleep(pause);
      }
    }
  }

  async function failover<T>(
    operation: string,
    deadline: number,
    opts: CallOptions,
    includeResponse: boolean,
    run: (c: RawConsulClient, ctx: EventEmitter) => Promise<T>,
  ): Promise<T> {
    for (let tried = 1; ; tried++) {
      const i = current;
      const left = deadline - Date.now();
      const untried = endpoints.length - tried + 1;
      const share = opts.blocking || untried <= 1 ? left : Math.max(MIN_ATTEMPT_MS, Math.floor(left / untried));
      try {
        return await attempt(operation, i, share, opts, includeResponse, run);
      } catch (err) {
        if (tried >= endpoints.length || !isUnreachable(err) || opts.signal?.aborted || deadline - Date.now() < MIN_ATTEMPT_MS / 2)
          throw err;
        if (current === i) {
          current = (i + 1) % endpoints.length;
          failovers++;
        }
      }
    }
  }

  function rawRequest(operation: string, req: Omit<RawEndpointRequest, 'method'>, ctx: EventEmitter) {
    return {
      name: operation,
      path: req.path,
      ctx,
      headers: token ? { 'x-consul-token': token } : ({} as Record<string, string>),
      ...(req.query ? { query: req.query } : {}),
      ...(req.body === undefined ? {} : { type: 'json' as const, body: req.body }),
    };
  }

  async function indexed(
    operation: string,
    opts: CallOptions,
    run: (client: RawConsulClient, ctx: EventEmitter) => Promise<unknown>,
  ): Promise<Indexed<unknown>> {
    const [res, value] = (await exec(operation, opts, true, run)) as RawWithResponse;
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

  return {
    get address() {
      return consulAddressUrl(endpoints[current] ?? endpoints[0]!);
    },
    get failovers() {
      return failovers;
    },
    get requestErrors() {
      return requestErrors;
    },
    get requestsThrottled() {
      return requestsThrottled;
    },
    requestCounts: counts,
    call: (operation, opts, run) => exec(operation, opts, false, run),
    callIndexed: (operation, opts, run) => indexed(operation, opts, run),
    request(operation, opts, req) {
      return exec(operation, opts, false, (c, ctx) => {
        const raw = rawRequest(operation, req, ctx);
        if (req.method === 'GET') return c._get(raw, bodyOrError);
        if (req.method === 'PUT') return c._put(raw, bodyOrError);
        if (req.method === 'POST') return c._post(raw, bodyOrError);
        return c._delete(raw, bodyOrError);
      });
    },
    requestIndexed(operation, opts, req) {
      return indexed(operation, opts, (c, ctx) => c._get(rawRequest(operation, req, ctx), responseAndBody));
    },
    destroy: () => {
      for (const c of clients) {
        c.long?.destroy();
        c.short?.destroy();
      }
    },
  };
}

/**
 * The HTTP agent of one client. Consul counts every open connection of a source IP against
 * `limits.http_max_conns_per_client` (idle keep-alive ones too, and a frozen Lambda keeps its
 * sockets open) and answers 429 beyond it; many environments share one IP behind a VPC's
 * Hyperplane ENI. So an environment keeps one long-lived connection per blocking query
 * (keep-alive: the next poll reuses it) and sends every other call (config reads, lease
 * writes: a few per minute) on a connection that closes after its answer, instead of
 * leaving a second idle socket open for the life of the environment. Over https, the agent's
 * TLS session cache lets those short connections resume the session.
 */
function agentFor(secure: boolean, blocking: boolean, tls: ConsulTls | undefined): HttpAgent | HttpsAgent {
  const options = { keepAlive: blocking };
  return secure ? new HttpsAgent({ ...options, ...httpsOptions(tls) }) : new HttpAgent(options);
}

/** True when the address did not answer at all (refused, reset, timed out), so another one may. */
export function isUnreachable(err: unknown): boolean {
  if (err instanceof ConsulTimeoutError) return !/aborted/.test(err.message);
  return (
    err instanceof ConsulRequestError &&
    err.statusCode === undefined &&
    /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EPIPE|socket hang up/i.test(err.message)
  );
}

/**
 * The https.Agent options for `tls`. rejectUnauthorized is set, not left to Node's default: the
 * default follows NODE_TLS_REJECT_UNAUTHORIZED, and an environment variable must not be able to
 * turn verification off and let the token go to whoever answers.
 */
function httpsOptions(tls: ConsulTls | undefined): {
  rejectUnauthorized: true;
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
} {
  return {
    rejectUnauthorized: true,
    ...(tls?.ca ? { ca: tls.ca } : {}),
    ...(tls?.cert ? { cert: tls.cert } : {}),
    ...(tls?.key ? { key: tls.key } : {}),
    ...(tls?.serverName ? { servername: tls.serverName } : {}),
  };
}

/** OpenSSL's certificate verification results as Node reports them in `err.code`. */
const TLS_VERIFY_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
]);

/** The TLS error code of a failed request (verification, a name mismatch, a handshake alert, a TLS protocol error), if it is one. */
function tlsErrorCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 3; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, library } = e as { code?: unknown; library?: unknown };
    if (typeof code === 'string' && (TLS_VERIFY_CODES.has(code) || /^ERR_(TLS|SSL)_/.test(code))) return code;
    // A record OpenSSL could not read (e.g. the address speaks plain HTTP) surfaces as a write EPROTO.
    if (code === 'EPROTO' || (typeof library === 'string' && /SSL/.test(library))) return typeof code === 'string' ? code : 'SSL';
  }
  return undefined;
}

const bodyOrError: RawMiddleware = (request, next) => (request.err ? next(false, request.err) : next(false, undefined, request.res?.body));
/** Like bodyOrError, but keeps the response (headers) as callIndexed expects it. */
const responseAndBody: RawMiddleware = (request, next) =>
  request.err ? next(false, request.err) : next(false, undefined, [request.res, request.res?.body]);

function toConsulError(operation: string, err: unknown, endpoint: ConsulAddress): ConsulRequestError {
  const statusCode = readStatusCode(err);
  const message = err instanceof Error ? err.message : String(err);
  const tlsCode = endpoint.secure ? tlsErrorCode(err) : undefined;
  if (tlsCode) {
    // Fails closed: the request was not sent (or the agent refused our certificate). Say so plainly.
    const detail = message
      .replace(/^consul: /, '')
      .split('\n')[0]
      ?.slice(0, 300);
    return new ConsulTlsError(operation, `TLS verification failed for ${consulAddressUrl(endpoint)} (${tlsCode}): ${detail}`);
  }
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
