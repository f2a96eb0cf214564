/**
 * A small typed facade over the `consul` npm client for the calls this project makes.
 *
 * Why a facade: the client's typings return `any` for most bodies, do not expose
 * response headers (X-Consul-Index) without a context object, and have no
 * per-call cancellation through AbortSignal. Every call here has a timeout,
 * maps failures to ConsulRequestError once, and is counted per operation so
 * tests and /status can show how many requests a code path made.
 *
 * The parts, one concept a file: consul-clients.ts (a client per address, TLS
 * verification), agent-failover.ts (which address, when to move on),
 * call-attempt.ts (one attempt: timer, cancel, counts), request-errors.ts (TLS
 * and status classification) and raw-endpoints.ts (endpoints node-consul lacks,
 * the X-Consul-* headers).
 */
import type { EventEmitter } from 'node:events';
import { AgentFailover, type CallOptions } from './agent-failover';
import { attemptOnce, RequestStats, type RawCall } from './call-attempt';
import { consulAddressUrl, parseConsulAddresses } from './consul-address';
import { ConsulClients, type ConsulConnection } from './consul-clients';
import type { RawConsulClient } from './raw-client';
import { getRawWithResponse, readIndexed, sendRaw, type Indexed, type RawEndpointRequest } from './raw-endpoints';

export { isUnreachable, type CallOptions } from './agent-failover';
export type { ConsulConnection, ConsulTls } from './consul-clients';
export type { Indexed, RawEndpointRequest } from './raw-endpoints';

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

const DEFAULT_TIMEOUT_MS = 2_000;

/** Creates a ConsulApi; `token` is sent as X-Consul-Token and never logged. */
export function createConsulApi(conn: ConsulConnection): ConsulApi {
  const endpoints = parseConsulAddresses(conn.address);
  const clients = new ConsulClients(conn, endpoints);
  const agents = new AgentFailover(endpoints.length);
  const stats = new RequestStats();
  const defaultTimeout = conn.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // One budget for the whole call: every address tried and every retry of a 5xx included.
  const exec = <T>(operation: string, opts: CallOptions, includeResponse: boolean, run: RawCall<T>): Promise<T> =>
    agents.run(opts, opts.timeoutMs ?? defaultTimeout, (i, timeoutMs) =>
      attemptOnce(
        stats,
        { endpoint: endpoints[i] ?? endpoints[0]!, client: () => clients.client(i, opts.blocking === true) },
        { operation, timeoutMs, opts, includeResponse },
        run,
      ),
    );
  const indexed = async (operation: string, opts: CallOptions, run: RawCall<unknown>) =>
    readIndexed(await exec(operation, opts, true, run));
  return {
    get address() {
      return consulAddressUrl(endpoints[agents.index] ?? endpoints[0]!);
    },
    get failovers() {
      return agents.failovers;
    },
    get requestErrors() {
      return stats.errors;
    },
    get requestsThrottled() {
      return stats.throttled;
    },
    requestCounts: stats.counts,
    call: (operation, opts, run) => exec(operation, opts, false, run),
    callIndexed: indexed,
    request: (operation, opts, req) => exec(operation, opts, false, (c, ctx) => sendRaw(c, operation, req, ctx, clients.token)),
    requestIndexed: (operation, opts, req) =>
      indexed(operation, opts, (c, ctx) => getRawWithResponse(c, operation, req, ctx, clients.token)),
    destroy: () => clients.destroy(),
  };
}
