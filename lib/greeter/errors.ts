/** Why a greet could not be served; the HTTP edge maps each kind to a status in one table. */
import { AppError } from '../errors/app-error';
import { statusName, type CallFailureKind, type GreeterCallError } from '../grpc/errors';

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

/** The facts a failed call's answer is worded from. */
export interface CallFailureContext {
  service: string;
  /** The Connect identity presented, when the transport is connect: a PERMISSION_DENIED is then an intention's deny. */
  identity?: string;
  budgetMs: number;
  details: GreetErrorDetails;
}

/** The GreetError for a Greeter call that failed as the gRPC adapter classified it (pure). */
export function greetErrorFromCall(err: GreeterCallError, c: CallFailureContext): GreetError {
  const kind = err.kind === 'permission_denied' ? (c.identity ? 'forbidden_by_intention' : 'backend') : err.kind;
  const message = {
    unavailable: `every attempt to reach ${c.service} failed`,
    deadline: `${c.service} did not answer within ${c.budgetMs} ms`,
    forbidden_by_intention: `Consul intentions do not allow ${c.identity ?? ''} to call ${c.service}`,
    backend: `${c.service} failed the call (${statusName(err.grpcCode)})`,
  }[kind];
  return new GreetError(kind, message, { ...c.details, attempts: err.attempts }, { cause: err });
}
