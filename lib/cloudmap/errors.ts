/** Errors raised at the boundary with the Cloud Map (servicediscovery) API. */

/** A Cloud Map call failed after the SDK's own retries; `operation` names it (e.g. `ListInstances`). */
export class CloudMapRequestError extends Error {
  override name = 'CloudMapRequestError';
  constructor(
    readonly operation: string,
    message: string,
    /** The AWS error code (e.g. `RequestLimitExceeded`, `ServiceNotFound`). */
    readonly code?: string,
    readonly attempts?: number,
    options?: { cause?: unknown },
  ) {
    super(`${operation}: ${message}`, options);
  }

  /** True when Cloud Map was still throttling us when the retries ran out. */
  get isThrottling(): boolean {
    return this.code === 'RequestLimitExceeded' || this.code === 'ThrottlingException' || this.code === 'TooManyRequestsException';
  }
}

/** Wraps any error thrown by an SDK call into a CloudMapRequestError for `operation`. */
export function toCloudMapError(operation: string, err: unknown): CloudMapRequestError {
  if (err instanceof CloudMapRequestError) return err;
  const code = err instanceof Error ? err.name : undefined;
  const message = err instanceof Error ? err.message || err.name : String(err);
  return new CloudMapRequestError(operation, message, code, attemptsOf(err), { cause: err });
}

/** How many attempts the SDK made for a result or an error (1 when it does not say). */
export function attemptsOf(value: unknown): number {
  if (typeof value !== 'object' || value === null || !('$metadata' in value)) return 1;
  const meta = (value as { $metadata?: { attempts?: unknown } }).$metadata;
  return typeof meta?.attempts === 'number' && meta.attempts > 0 ? meta.attempts : 1;
}
