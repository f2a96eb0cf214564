// Powertools Metrics from the real functions (in-process, as Lambda calls them) against a real Consul
// dev agent and Greeter: the EMF lines CloudWatch would read off stdout, what they hold, and how
// rarely a warm greet writes one.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { handler as greetHandler, runtime as greetRuntime } from '../../functions/greet';
import { captureOutput, httpEvent, lambdaContext, startTestStack, useFunctionEnvironment, type TestStack } from './harness';

type Emf = { _aws: { CloudWatchMetrics: { Namespace: string; Metrics: { Name: string; Unit: string }[] }[] } } & Record<string, unknown>;
const emfLines = (output: string): Emf[] =>
  output
    .split('\n')
    .filter((l) => l.startsWith('{"_aws"'))
    .map((l) => JSON.parse(l) as Emf);

let stack: TestStack;
before(async () => {
  stack = await startTestStack('config/greeter-gateway/metrics/');
  await stack.setConfig({ discoveryMinIntervalMs: '0' });
  await stack.addGreeter({ id: 'metrics-1' });
  useFunctionEnvironment(stack);
  process.env.POWERTOOLS_METRICS_NAMESPACE = 'consul-grpc-lambda-test';
});
after(async () => {
  delete process.env.POWERTOOLS_METRICS_NAMESPACE;
  greetRuntime.reset();
  await stack?.stop();
});

describe('metrics (EMF)', () => {
  it('greet: the cold start publishes latency, attempts, instances discovered and Consul requests; warm invocations within 10 s publish nothing', async () => {
    greetRuntime.reset();
    const { result, output } = await captureOutput(async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await greetHandler(httpEvent('GET', { name: `m${i}` }), lambdaContext())).statusCode ?? 0);
      return statuses;
    });
    assert.deepEqual(result, [200, 200, 200, 200, 200]);
    const lines = emfLines(output);
    assert.equal(lines.length, 1, output);
    const [line] = lines;
    assert.equal(line?._aws.CloudWatchMetrics[0]?.Namespace, 'consul-grpc-lambda-test');
    const units = Object.fromEntries((line?._aws.CloudWatchMetrics[0]?.Metrics ?? []).map((m) => [m.Name, m.Unit]));
    assert.deepEqual(units, {
      GreetLatency: 'Milliseconds',
      GreetAttempts: 'Count',
      InstancesDiscovered: 'Count',
      ConsulRequests: 'Count',
      ConsulErrors: 'Count',
      ConsulThrottled: 'Count',
      LeaseRenewals: 'Count',
      LeaseFailures: 'Count',
    });
    assert.ok(typeof line?.GreetLatency === 'number' && line.GreetLatency > 0, JSON.stringify(line));
    assert.equal(line?.GreetAttempts, 1);
    assert.equal(line?.InstancesDiscovered, 1);
    assert.ok(typeof line?.ConsulRequests === 'number' && line.ConsulRequests >= 3, 'config read, lease and discovery went to Consul');
    assert.equal(line?.ConsulErrors, 0);
    assert.equal(line?.ConsulThrottled, 0);
    assert.equal(line?.LeaseRenewals, 1, 'the cold start registered its lease before answering');
    assert.equal(line?.LeaseFailures, 0);
  });
});
