/** Errors of the HTTP edge itself: a request it cannot read, whatever the function. */
import { AppError } from '../errors/app-error';

/**
 * - `invalid_body`: empty, not JSON, or an object with a duplicate key.
 * - `payload_too_large`: above MAX_BODY_BYTES.
 * - `unsupported_media_type`: not application/json.
 * - `method_not_allowed`: no route for this method and resource.
 */
export type RequestErrorKind = 'invalid_body' | 'payload_too_large' | 'unsupported_media_type' | 'method_not_allowed';

/** A request the edge refused before any use case saw it. */
export class RequestError extends AppError<RequestErrorKind> {
  override name = 'RequestError';
  readonly domain = 'request';
}
