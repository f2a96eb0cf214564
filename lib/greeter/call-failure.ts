/**
 * The GreetError for a Greeter call that failed. Apart from errors.ts, which the HTTP edge of every
 * function imports: this one needs grpc-js's status names, and the registry and health-sync bundles
 * must not carry grpc-js.
 */
import { statusName, type GreeterCallError } from '../grpc/errors';
import { GreetError, type GreetErrorDetails } from './errors';

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
