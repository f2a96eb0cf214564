/** Why a generic RPC could not be served; lib/http/rpc-error-response.ts maps each kind to an HTTP answer. */
import { AppError } from '../errors/app-error';

/**
 * The route's own failures (the backend's gRPC statuses travel as RpcStatusError instead):
 * - `not_found`: no route, no such service or method, or a method that is not on the allow-list
 *   (one answer for all of them, so a caller cannot tell which);
 * - `invalid_argument`: the request does not map onto the method's input (the field is named);
 * - `unimplemented`: a streaming method this route does not serve;
 * - `no_healthy_instance`, `unavailable`, `deadline`, `forbidden_by_intention`: as for a greet.
 */
export type RpcErrorKind =
  'not_found' | 'invalid_argument' | 'unimplemented' | 'no_healthy_instance' | 'unavailable' | 'deadline' | 'forbidden_by_intention';

/** Extra facts the edge uses to shape the answer and the log line. */
export interface RpcErrorDetails {
  /** The request field that was wrong (invalid_argument). */
  field?: string;
  retryAfterSeconds?: number;
  attempts?: number;
  /** The Consul service the call was routed to. */
  backendService?: string;
}

/** A failure of the route itself; `message` is safe to show to the caller. */
export class RpcError extends AppError<RpcErrorKind> {
  override name = 'RpcError';
  readonly domain = 'rpc';
  constructor(
    kind: RpcErrorKind,
    message: string,
    readonly details: RpcErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(kind, message, options);
  }
}

/** The JSON form of a google.rpc.Status, built from the message by @bufbuild/protobuf (see status.ts). */
export type StatusJson = { code?: number; message?: string; details?: unknown[] };

/** The backend answered the call with a gRPC status other than OK; passed on as a google.rpc.Status. */
export class RpcStatusError extends AppError<'backend_status'> {
  override name = 'RpcStatusError';
  readonly domain = 'rpc';
  constructor(
    readonly grpcCode: number,
    readonly status: StatusJson,
    readonly attempts: number,
    readonly backendService: string,
    options?: { cause?: unknown },
  ) {
    super('backend_status', status.message ?? '', options);
  }
}

/** The route's kinds that are the caller's mistake (a name, a field, a streaming method): answered, not failed. */
const CALLER_KINDS: ReadonlySet<RpcErrorKind> = new Set(['not_found', 'invalid_argument', 'unimplemented']);

/**
 * True when `err` means the route could not serve the call (RpcFailures, what its alarm watches): no passing
 * instance, every attempt UNAVAILABLE, the deadline, an intention's denial, or a fault of its own. The caller's
 * mistakes and a backend's own gRPC status (RpcStatusError, an answer of the service) are not.
 */
export function isServingFailure(err: unknown): boolean {
  if (err instanceof RpcStatusError) return false;
  return !(err instanceof RpcError && CALLER_KINDS.has(err.kind));
}
