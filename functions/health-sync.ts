/** Scheduled: probe agentless instances, keep Consul checks honest, mirror into Cloud Map. */
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { HealthSyncError } from '../lib/health-sync/errors';
import { healthSync } from '../lib/health-sync/health-sync-run';
import { createHealthSyncRuntime } from '../lib/health-sync/health-sync-runtime';
import { runtimeSlot } from '../lib/runtime/runtime-slot';

/** What this function keeps across warm invocations (see lib/health-sync/health-sync-runtime.ts). */
export const runtime = runtimeSlot(createHealthSyncRuntime);

// A schedule event (EventBridge fields pass through), or `{"dryRun": true}` from `serverless invoke`.
const input = z.object({ dryRun: z.boolean().optional() }).loose();

export const handler = async (event: unknown, context?: Pick<Context, 'getRemainingTimeInMillis'>) => {
  const parsed = input.safeParse(event ?? {});
  // A malformed dryRun must never turn into a real run.
  if (!parsed.success)
    throw new HealthSyncError(
      'invalid_input',
      `invalid health-sync input: ${parsed.error.issues[0]?.message ?? 'bad event'} (expected {"dryRun": true|false})`,
    );
  const dryRun = parsed.data.dryRun === true;
  const report = await healthSync(runtime.get(), { dryRun, remainingMs: context ? () => context.getRemainingTimeInMillis() : undefined });
  if (dryRun) runtime.logger.info('health-sync dry run: planned actions', { actions: report.plan });
  return report;
};
