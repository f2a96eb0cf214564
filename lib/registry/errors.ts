/** Why the instance registry refused or could not do a request; the HTTP edge maps each kind. */
import { AppError } from '../errors/app-error';

/**
 * - `invalid_request`: a field, id or query parameter fails validation.
 * - `not_found`: no registry-made instance has this id.
 * - `forbidden`: the instance token is missing or wrong.
 * - `health_is_probed`: a heartbeat for an instance whose health a gRPC probe sets.
 * - `idempotency_key_reused`: the Idempotency-Key came with a different request.
 * - `idempotency_conflict`: concurrent requests kept racing for the same key (or the same API key's quota record), or the request that claimed the key did not finish in time.
 * - `quota_exceeded`: the API key holds as many live instances as it may (in total or of this service).
 */
export type RegistryErrorKind =
  'invalid_request' | 'not_found' | 'forbidden' | 'health_is_probed' | 'idempotency_key_reused' | 'idempotency_conflict' | 'quota_exceeded';

/** A registry request that failed; `message` is safe to show to the caller and names the bad field. */
export class RegistryError extends AppError<RegistryErrorKind> {
  override name = 'RegistryError';
  readonly domain = 'registry';
}
