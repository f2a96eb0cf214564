/** Errors of a Greeter call, classified for the HTTP layer. */
import { status } from '@grpc/grpc-js';

/** How a call failed, which decides the HTTP status. */
export type GreeterFailureKind = 'unavailable' | 'deadline' | 'backend';

/** A Greeter call that failed after `attempts` attempts. */
export class GreeterCallError extends Error {
  override name = 'GreeterCallError';
  constructor(
    readonly kind: GreeterFailureKind,
    readonly grpcCode: number,
    readonly attempts: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The kind of failure for a gRPC status code. */
export function failureKind(code: number): GreeterFailureKind {
  if (code === status.UNAVAILABLE) return 'unavailable';
  if (code === status.DEADLINE_EXCEEDED) return 'deadline';
  return 'backend';
}
