// A scheduled health-sync run whose Consul K/V cannot be read: nothing listens at the address (a real
// refused connection, no stand-in). On defaults the run would mirror nothing and report success, so it
// must skip, say why, and count the skip.
import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import { handler, runtime } from '../../functions/health-sync';
import { freePort } from '../../scripts/stack/processes';
import { captureOutput, lambdaContext } from './harness';

const saved = { ...process.env };
afterEach(() => {
  runtime.reset();
  process.env = { ...saved };
});
after(() => runtime.reset());

describe('health-sync without its config', () => {
  it('skips a run whose K/V config cannot be read, loudly, instead of mirroring nothing on defaults', async () => {
    const port = await freePort();
    process.env.CONSUL_HTTP_ADDR = `127.0.0.1:${port}`;
    process.env.CONSUL_HTTP_TOKEN = 'not-used-nothing-listens';
    process.env.CONFIG_PREFIX = 'config/health-sync/test/';
    process.env.POWERTOOLS_METRICS_NAMESPACE = 'consul-grpc-lambda-test';
    const { result: report, output: text } = await captureOutput(() => handler({}, lambdaContext(30_000)));
    assert.equal(report.skipped, 'config_unavailable');
    assert.deepEqual(report.plan, []);
    assert.equal(report.cloudMap, undefined);
    assert.match(text, /health-sync skipped: Consul K\/V could not be read/);
    // The skip is counted, so an alarm on HealthSyncSkipped sees it.
    assert.match(text, /"HealthSyncSkipped":1/);
    assert.doesNotMatch(text, /not-used-nothing-listens/);
  });
});
