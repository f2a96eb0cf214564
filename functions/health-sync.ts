/** Scheduled: probe agentless instances, keep Consul checks honest, mirror into Cloud Map. */
import { z } from 'zod';
import { healthSyncInvocation } from '../lib/health-sync/health-sync-runtime';
import { logger } from '../lib/log/logger';

// A schedule event, or `{"dryRun": true}` from `serverless invoke`.
const input = z.object({ dryRun: z.boolean().optional() }).loose();

export const handler = async (event: unknown) => {
  const parsed = input.safeParse(event ?? {});
  const dryRun = parsed.success ? parsed.data.dryRun === true : false;
  const report = await healthSyncInvocation({ dryRun });
  if (dryRun) logger.info('health-sync dry run: planned actions', { actions: report.plan });
  return report;
};
