/**
 * The subset of the `consul` npm client this project calls, typed the way we use it.
 *
 * Why: the package's own typings omit the options every call here needs
 * (`ctx` for cancellation and response headers, `index`/`wait` for blocking
 * queries, `timeout`) and declare bodies as `any`. consul-clients.ts casts the
 * client to this interface once; everything else stays typed.
 */
import type { EventEmitter } from 'node:events';

/** Options node-consul reads on every call. */
export interface RawCommon {
  ctx?: EventEmitter;
  token?: string;
  dc?: string;
  index?: string;
  wait?: string;
  stale?: boolean;
  timeout?: number;
}

/** A response as returned when `ctx.includeResponse` is set: the HTTP response, then the body. */
export type RawWithResponse = [{ headers: Record<string, string | string[] | undefined>; statusCode?: number }, unknown];

/** A request in the form of papi, the HTTP client node-consul's endpoints are built on. */
export interface RawRequest {
  name: string;
  /** Path below /v1, already URL-encoded. */
  path: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  type?: 'json';
  body?: unknown;
  ctx?: EventEmitter;
}

/** papi middleware: reads the finished request and passes on an error or a value. */
export type RawMiddleware = (
  request: { err?: Error; res?: { body?: unknown; headers?: Record<string, string | string[] | undefined> } },
  next: (skip: boolean, err?: Error, value?: unknown) => void,
) => void;

/** The node-consul methods we call. */
export interface RawConsulClient {
  /** papi's generic methods, for endpoints node-consul lacks (the ACL policy and token API). */
  _get(req: RawRequest, middleware: RawMiddleware): Promise<unknown>;
  _put(req: RawRequest, middleware: RawMiddleware): Promise<unknown>;
  _post(req: RawRequest, middleware: RawMiddleware): Promise<unknown>;
  _delete(req: RawRequest, middleware: RawMiddleware): Promise<unknown>;
  kv: {
    get(opts: RawCommon & { key: string; recurse?: boolean }): Promise<unknown>;
    set(opts: RawCommon & { key: string; value: string; cas?: number; acquire?: string; release?: string }): Promise<unknown>;
    del(opts: RawCommon & { key: string; recurse?: boolean }): Promise<unknown>;
  };
  health: {
    service(opts: RawCommon & { service: string; passing?: boolean; tag?: string }): Promise<unknown>;
    node(opts: RawCommon & { node: string }): Promise<unknown>;
  };
  session: {
    create(opts: RawCommon & { name?: string; ttl?: string; behavior?: 'release' | 'delete'; lockdelay?: string }): Promise<unknown>;
    destroy(opts: RawCommon & { id: string }): Promise<unknown>;
    renew(opts: RawCommon & { id: string }): Promise<unknown>;
  };
  catalog: {
    register(opts: RawCommon & Record<string, unknown>): Promise<unknown>;
    deregister(opts: RawCommon & { node: string; serviceid?: string; checkid?: string }): Promise<unknown>;
    node: {
      services(opts: RawCommon & { node: string }): Promise<unknown>;
    };
  };
  agent: {
    self(opts?: RawCommon): Promise<unknown>;
    service: {
      list(opts: RawCommon & { filter?: string }): Promise<unknown>;
      register(opts: RawCommon & Record<string, unknown>): Promise<unknown>;
      deregister(opts: RawCommon & { id: string }): Promise<unknown>;
    };
    check: {
      pass(opts: RawCommon & { id: string; note?: string }): Promise<unknown>;
      fail(opts: RawCommon & { id: string; note?: string }): Promise<unknown>;
    };
  };
  destroy(): void;
}
