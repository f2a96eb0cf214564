/**
 * `node --import tsx bench/metrics.bench.ts`: what Powertools Metrics (EMF) costs a warm greet. Two
 * gateway runtimes greet through the greet use case in-process against a real Consul with ACLs and
 * two backends, one with metrics on (POWERTOOLS_METRICS_NAMESPACE set) and one without; blocks
 * interleave (bench/measure.ts) so drift hits both alike. Also times one EMF line on its own (what the invocation that
 * crosses the 10 s interval pays).
 */
import { createGatewayRuntime, type GatewayRuntime } from '../lib/greeter/gateway-runtime';
import { greet } from '../lib/greeter/greet';
import { silentLog } from '../lib/log/logger';
import { createFunctionMetrics, LINE_MAX_VALUES } from '../lib/metrics/function-metrics';
import { startFunctionStack } from '../scripts/stack/function-stack';
import { latencyTable } from './format';
import { interleaved, runMain, stats, timeSync } from './measure';
import { writeResult } from './results';

const N = Number(process.env.BENCH_N ?? 2000);
const BLOCK = 100;

function runtime(namespace: string | undefined): GatewayRuntime {
  if (namespace) process.env.POWERTOOLS_METRICS_NAMESPACE = namespace;
  else delete process.env.POWERTOOLS_METRICS_NAMESPACE;
  return createGatewayRuntime(silentLog);
}

/** Median time of one full EMF line (LINE_MAX_VALUES - 1 latency values, then the flush) and a few counters, with stdout muted. */
function emfLineMs(): number {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    const m = createFunctionMetrics({ namespace: 'bench', service: 'greet', flushIntervalMs: 0 });
    const samples: number[] = [];
    for (let i = 0; i < 500; i++) {
      // One short of a full line: the line goes out at the timed flush, not at the last value.
      for (let v = 0; v < LINE_MAX_VALUES - 1; v++) m.latency('GreetLatency', v / 10);
      m.count('ConsulRequests', 3);
      m.count('GreetErrors', 0);
      samples.push(timeSync(() => m.flush(true)));
    }
    return stats(samples, 'EMF lines').p50;
  } finally {
    process.stdout.write = write;
  }
}

async function main(): Promise<void> {
  const stack = await startFunctionStack('config/greeter-gateway/bench-metrics/');
  try {
    await stack.setConfig({ discoveryMinIntervalMs: '0' });
    await stack.addGreeter({ id: 'metrics-1' });
    await stack.addGreeter({ id: 'metrics-2' });
    Object.assign(process.env, {
      CONSUL_HTTP_ADDR: stack.consul.address,
      CONSUL_HTTP_TOKEN: stack.gatewayToken,
      CONFIG_PREFIX: stack.prefix,
    });
    const off = runtime(undefined);
    const on = runtime('consul-grpc-lambda-bench');
    const call = (rt: GatewayRuntime, name: string) => greet(rt, name, () => 10_000);
    const warm = await interleaved({ off: { run: (i) => call(off, `a${i}`) }, on: { run: (i) => call(on, `b${i}`) } }, N, BLOCK);
    off.close();
    on.close();
    const sa = stats(warm.off.samples, 'greets with metrics off');
    const sb = stats(warm.on.samples, 'greets with metrics on');
    const line = emfLineMs();
    console.error(`\nnode ${process.version}, ${N} warm greets each (greet use case in-process), loopback, 2 backends\n`);
    for (const line of latencyTable([
      ['metrics off', sa],
      ['metrics on (EMF)', sb],
    ]))
      console.error(line);
    console.error(
      `\non / off: p50 ${(sb.p50 / sa.p50).toFixed(3)}x (${sb.p50 - sa.p50 >= 0 ? '+' : ''}${(sb.p50 - sa.p50).toFixed(3)} ms)   p99 ${(sb.p99 / sa.p99).toFixed(3)}x`,
    );
    console.error(`one EMF line (${LINE_MAX_VALUES - 1} latency values + counters): median ${line.toFixed(3)} ms, paid once per 10 s`);
    writeResult('metrics', {
      off: sa,
      on: sb,
      ratioP50: sb.p50 / sa.p50,
      ratioP99: sb.p99 / sa.p99,
      emfLineMs: line,
      flushIntervalMs: 10_000,
    });
  } finally {
    await stack.stop();
  }
}

runMain(main);
