/** Errors of a function's own configuration: its environment, its secrets, its K/V values. */
import { AppError } from '../errors/app-error';

/**
 * - `invalid_environment`: an environment variable is malformed (deploy-time mistake).
 * - `secret_unavailable`: SSM could not be read just now (may pass on retry).
 * - `invalid_secret`: a secret was read but cannot be used (too short, empty).
 * - `invalid_config`: a config value passed its key's rule but cannot be applied.
 */
export type ConfigErrorKind = 'invalid_environment' | 'secret_unavailable' | 'invalid_secret' | 'invalid_config';

/** The function cannot run as configured; the message names the variable or parameter, never a value. */
export class ConfigError extends AppError<ConfigErrorKind> {
  override name = 'ConfigError';
  readonly domain = 'config';
}
