/** Errors raised at the boundary with the Consul HTTP API. */
import { AppError } from '../errors/app-error';

/** Consul refused the token (401/403, ACL default deny), or could not be used right now. */
export type ConsulErrorKind = 'forbidden' | 'unavailable';

/** A Consul HTTP call failed; `operation` names it (e.g. `consul.kv.get`). */
export class ConsulRequestError extends AppError<ConsulErrorKind> {
  override name = 'ConsulRequestError';
  readonly domain = 'consul';
  constructor(
    readonly operation: string,
    message: string,
    readonly statusCode?: number,
    options?: { cause?: unknown },
  ) {
    super(statusCode === 401 || statusCode === 403 ? 'forbidden' : 'unavailable', `${operation}: ${message}`, options);
  }

  /** True for 401/403: the token lacks the permission (ACL default deny). */
  get isPermissionDenied(): boolean {
    return this.kind === 'forbidden';
  }

  /**
   * True for 429: the agent refused the request because this source IP holds more than
   * `limits.http_max_conns_per_client` connections (or a rate limit applies). Still an
   * `unavailable` kind for the edge (503 with Retry-After), but callers treat it as a
   * signal to back off with jitter and keep serving their cache, never to retry at once.
   */
  get isThrottled(): boolean {
    return this.statusCode === 429;
  }
}

/** True when `err` is a Consul 429 (see ConsulRequestError.isThrottled). */
export function isThrottled(err: unknown): boolean {
  return err instanceof ConsulRequestError && err.isThrottled;
}

/** A Consul HTTP call hit its timeout or was cancelled by its caller. */
export class ConsulTimeoutError extends ConsulRequestError {
  override name = 'ConsulTimeoutError';
}

/**
 * The agent's certificate did not verify (unknown CA, wrong name, expired), or the agent refused
 * ours: an unavailable ConsulRequestError (503 CONSUL_UNAVAILABLE at the edge) that is never
 * treated as "no answer", so a call does not move on to another address because of it.
 */
export class ConsulTlsError extends ConsulRequestError {
  override name = 'ConsulTlsError';
}

/** Consul's address (CONSUL_HTTP_ADDR or a CLI flag) cannot be parsed. */
export class ConsulAddressError extends AppError<'invalid_address'> {
  override name = 'ConsulAddressError';
  readonly domain = 'consul';
  constructor(message: string) {
    super('invalid_address', message);
  }
}
