/** Scheduled: probe agentless instances, keep Consul checks honest, mirror into Cloud Map. */
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { healthSyncInvocation } from '../lib/health-sync/health-sync-runtime';
import { logger } from '../lib/log/logger';

// A schedule event (EventBridge fields pass through), or `{"dryRun": true}` from `serverless invoke`.
const input = z.object({ dryRun: z.boolean().optional() }).loose();

export const handler = async (event: unknown, context?: Pick<Context, 'getRemainingTimeInMillis'>) => {
  const parsed = input.safeParse(event ?? {});
  // A malformed dryRun must never turn into a real run.
  if (!parsed.success) throw new Error(`invalid health-sync input: ${parsed.error.issues[0]?.message ?? 'bad event'} (expected {"dryRun": true|false})`);
  const dryRun = parsed.data.dryRun === true;
  const report = await healthSyncInvocation({ dryRun, remainingMs: context ? () => context.getRemainingTimeInMillis() : undefined });
  if (dryRun) logger.info('health-sync dry run: planned actions', { actions: report.plan });
  return report;
};
