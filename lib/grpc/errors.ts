/** Errors of the gRPC adapter: a Greeter call that failed, and a target that cannot resolve. */
import { status } from '@grpc/grpc-js';
import { AppError } from '../errors/app-error';

/** How a call failed: the gRPC status decides, and the greet use case keeps the kind as is. */
export type CallFailureKind = 'unavailable' | 'deadline' | 'permission_denied' | 'backend';

/** A Greeter call that failed after `attempts` attempts, `failoverAttempts` of them in failover datacenters. */
export class GreeterCallError extends AppError<CallFailureKind> {
  override name = 'GreeterCallError';
  readonly domain = 'grpc';
  readonly failoverAttempts: number;
  constructor(
    kind: CallFailureKind,
    readonly grpcCode: number,
    readonly attempts: number,
    message: string,
    options?: { cause?: unknown; failoverAttempts?: number },
  ) {
    super(kind, message, options);
    this.failoverAttempts = options?.failoverAttempts ?? 0;
  }
}

/** A `consul:` target this process cannot resolve (a bug in how the channel was built, never user input). */
export class GrpcTargetError extends AppError<'invalid_target'> {
  override name = 'GrpcTargetError';
  readonly domain = 'grpc';
  constructor(message: string) {
    super('invalid_target', message);
  }
}

/** The name of a gRPC status code (`UNAVAILABLE`), for messages that callers read. */
export function statusName(code: number): string {
  return status[code] ?? `status ${code}`;
}

/** The kind of failure for a gRPC status code. */
export function failureKind(code: number): CallFailureKind {
  if (code === status.UNAVAILABLE) return 'unavailable';
  if (code === status.DEADLINE_EXCEEDED) return 'deadline';
  if (code === status.PERMISSION_DENIED) return 'permission_denied';
  return 'backend';
}
