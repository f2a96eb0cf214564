/** Why a greet request could not be served; lib/http maps the kind to a status code. */

/** The ways a greet can fail after its input was accepted. */
export type GreetFailureKind = 'no_healthy_instance' | 'unavailable' | 'deadline' | 'backend';

/** A greet that failed; `message` is safe to show to the caller. */
export class GreetError extends Error {
  override name = 'GreetError';
  constructor(
    readonly kind: GreetFailureKind,
    message: string,
    readonly details: { retryAfterSeconds?: number; attempts?: number; service?: string } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
