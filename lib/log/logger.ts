/**
 * One structured logger per process (Powertools), shared by every module.
 *
 * Tokens never reach it: config and Consul code redact them before logging,
 * and `errorSummary` keeps stack traces out of log lines for expected errors.
 */
import { Logger } from '@aws-lambda-powertools/logger';

/** The process-wide logger; its level comes from POWERTOOLS_LOG_LEVEL / LOG_LEVEL. */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'consul-grpc-lambda' });

/** Name and message of an error, without its stack, for log attributes. */
export function errorSummary(err: unknown): { name: string; message: string } {
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: 'NonError', message: String(err) };
}
