/** Pure description of one execution environment as a Consul lease. */
import { randomBytes } from 'node:crypto';

/** What a platform engineer sees about an environment in Consul. */
export interface LeaseIdentity {
  id: string;
  meta: Record<string, string>;
}

/** Builds a unique id and the meta from the Lambda environment variables. */
export function leaseIdentity(
  service: string,
  coldStartAt: Date,
  env: NodeJS.ProcessEnv = process.env,
  random: (n: number) => Buffer = randomBytes,
): LeaseIdentity {
  const meta: Record<string, string> = {
    function: env.AWS_LAMBDA_FUNCTION_NAME ?? 'local',
    version: env.AWS_LAMBDA_FUNCTION_VERSION ?? '$LATEST',
    region: env.AWS_REGION ?? 'local',
    memory_mb: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '',
    runtime: env.AWS_EXECUTION_ENV ?? `node-${process.version}`,
    cold_start_at: coldStartAt.toISOString(),
    log_stream: env.AWS_LAMBDA_LOG_STREAM_NAME ?? '',
  };
  // Consul caps meta values at 512 characters.
  for (const k of Object.keys(meta)) meta[k] = (meta[k] ?? '').slice(0, 512);
  return { id: `${service}-${random(8).toString('hex')}`, meta };
}

/** True when the last renewal is at least a third of the TTL old. */
export function renewalDue(lastRenewedAt: number | undefined, now: number, ttlSeconds: number): boolean {
  return lastRenewedAt === undefined || now - lastRenewedAt >= (ttlSeconds * 1000) / 3;
}
