/**
 * `npm run health-sync -- [--dry-run]`: one health-sync run on demand, with the
 * same environment a deployed function has (CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN,
 * CONFIG_PREFIX). A dry run prints the plan and changes nothing.
 */
import { parseArgs } from 'node:util';
import { handler } from '../functions/health-sync';

const { values } = parseArgs({ options: { 'dry-run': { type: 'boolean', default: false } } });
process.env.CONFIG_PREFIX ??= 'config/health-sync/local/';
handler({ dryRun: values['dry-run'] }).then(
  (report) => {
    console.log(JSON.stringify(report, null, 2));
    // Said on stderr too: a run that mirrored nothing must not pass for a good one.
    if (report.skipped) console.error(`health-sync skipped the run: ${report.skipped}`);
    if (report.cloudMapSkipped) console.error(`health-sync skipped the Cloud Map step: ${report.cloudMapSkipped}`);
    process.exit(report.cloudMap?.errors.length || report.skipped === 'config_unavailable' ? 1 : 0);
  },
  (err: unknown) => {
    console.error(`health-sync failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
