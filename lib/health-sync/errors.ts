/** Why the health-sync job refused to run. */
import { AppError } from '../errors/app-error';

/** The scheduled event (or a manual invoke) could not be understood; a malformed dry run must never run for real. */
export class HealthSyncError extends AppError<'invalid_input'> {
  override name = 'HealthSyncError';
  readonly domain = 'health-sync';
}
