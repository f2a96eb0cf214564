/** Pure description of one execution environment as a Consul lease. */
import { randomBytes } from 'node:crypto';
import { readLambdaFunctionIdentity, type LambdaFunctionIdentity } from '../config/environment';

/** What a platform engineer sees about an environment in Consul. */
export interface LeaseIdentity {
  id: string;
  meta: Record<string, string>;
}

/** Builds a unique id and the meta from the function's identity as Lambda describes it. */
export function leaseIdentity(
  service: string,
  coldStartAt: Date,
  lambda: LambdaFunctionIdentity = readLambdaFunctionIdentity(),
  random: (n: number) => Buffer = randomBytes,
): LeaseIdentity {
  const meta: Record<string, string> = {
    function: lambda.functionName ?? 'local',
    version: lambda.version ?? '$LATEST',
    region: lambda.region ?? 'local',
    memory_mb: lambda.memoryMb ?? '',
    runtime: lambda.executionEnv ?? `node-${process.version}`,
    cold_start_at: coldStartAt.toISOString(),
    log_stream: lambda.logStream ?? '',
  };
  // Consul caps meta values at 512 characters.
  for (const k of Object.keys(meta)) meta[k] = (meta[k] ?? '').slice(0, 512);
  return { id: `${service}-${random(8).toString('hex')}`, meta };
}

/** True when the last renewal is at least a third of the TTL old. */
export function renewalDue(lastRenewedAt: number | undefined, now: number, ttlSeconds: number): boolean {
  return lastRenewedAt === undefined || now - lastRenewedAt >= (ttlSeconds * 1000) / 3;
}
