/** Client errors raised while reading a request; each knows its HTTP status. */

/** A request the caller must fix: 4xx with a stable machine-readable code. */
export class RequestError extends Error {
  override name = 'RequestError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** 400 for input that fails validation. */
export function invalidInput(message: string): RequestError {
  return new RequestError(400, 'INVALID_INPUT', message);
}
