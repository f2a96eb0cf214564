/** Why a greet could not be served; the HTTP edge maps each kind to a status in one table. */
import { AppError } from '../errors/app-error';
import type { CallFailureKind } from '../grpc/errors';

/**
 * One kind set for the whole greet path: the name was refused, no instance
 * passes, or the call failed as the gRPC adapter classified it (kept as is, except that
 * PERMISSION_DENIED is an intention's deny on a Connect transport and a backend error otherwise).
 */
export type GreetErrorKind =
  'invalid_name' | 'no_healthy_instance' | 'forbidden_by_intention' | Exclude<CallFailureKind, 'permission_denied'>;

/** Extra facts the edge uses to shape the answer and the log line. */
export interface GreetErrorDetails {
  retryAfterSeconds?: number;
  attempts?: number;
  /** The Consul service the greet was routed to. */
  backendService?: string;
  /** The Connect identity the gateway presented (connect transport only). */
  sourceIdentity?: string;
}

/** A greet that failed; `message` is safe to show to the caller. */
export class GreetError extends AppError<GreetErrorKind> {
  override name = 'GreetError';
  readonly domain = 'greet';
  constructor(
    kind: GreetErrorKind,
    message: string,
    readonly details: GreetErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(kind, message, options);
  }
}
