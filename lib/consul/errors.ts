/** Errors raised at the boundary with the Consul HTTP API. */

/** A Consul HTTP call failed; `operation` names it (e.g. `consul.kv.get`). */
export class ConsulRequestError extends Error {
  override name = 'ConsulRequestError';
  constructor(
    readonly operation: string,
    message: string,
    readonly statusCode?: number,
    options?: { cause?: unknown },
  ) {
    super(`${operation}: ${message}`, options);
  }

  /** True for 401/403: the token lacks the permission (ACL default deny). */
  get isPermissionDenied(): boolean {
    return this.statusCode === 403 || this.statusCode === 401;
  }
}

/** A Consul HTTP call hit its timeout or was cancelled by its caller. */
export class ConsulTimeoutError extends ConsulRequestError {
  override name = 'ConsulTimeoutError';
}
