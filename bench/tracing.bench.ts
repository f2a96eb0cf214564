/**
 * `node --import tsx bench/tracing.bench.ts`: what trace propagation costs a warm greet. The greet
 * handler runs in-process, as Lambda calls it, against a real Consul with ACLs and two real Greeter
 * processes, with `_X_AMZN_TRACE_ID` set as under Lambda: with propagation on, each invocation
 * derives its trace, tags the logger with it, sends traceparent and x-amzn-trace-id on the call, and
 * the Greeter parses it; off (TRACE_PROPAGATION=false) none of that. The Greeter's log line per traced
 * call is silenced (GREETER_LOG_TRACED_CALLS=0): the stack reads the Greeters' stderr in this very
 * process, a cost a deployed gateway never has. One runtime; calls alternate
 * on and off, so drift hits both alike. Target: on / off ≤ 1.02× at p50.
 */
import { handler, runtime } from '../functions/greet';
import { startFunctionStack, useFunctionEnvironment } from '../scripts/stack/function-stack';
import { httpEvent, lambdaContext } from '../scripts/support/lambda-events';
import { latencyTable } from './format';
import { runMain, stats, time } from './measure';
import { writeResult } from './results';

const N = Number(process.env.BENCH_N ?? 2000);
const TARGET = 1.02;

async function main(): Promise<void> {
  const stack = await startFunctionStack('config/greeter-gateway/bench-tracing/');
  try {
    await stack.setConfig({ discoveryMinIntervalMs: '0', leaseEnabled: 'false' });
    // The Greeters' per-call trace line would be read by this process (the stack pipes their stderr),
    // which a deployed gateway never pays: measured apart, and silenced here.
    process.env.GREETER_LOG_TRACED_CALLS = '0';
    await stack.addGreeter({ id: 'tracing-1' });
    await stack.addGreeter({ id: 'tracing-2' });
    useFunctionEnvironment(stack);
    runtime.logger.setLogLevel('WARN');
    process.env._X_AMZN_TRACE_ID = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
    const event = httpEvent('GET', { name: 'bench' });
    const call = async () => {
      const res = await handler(event, lambdaContext());
      if (res.statusCode !== 200) throw new Error(`greet answered ${res.statusCode}: ${res.body}`);
    };
    const setPropagation = (on: boolean) => (process.env.TRACE_PROPAGATION = on ? 'true' : 'false');
    for (let i = 0; i < 300; i++) {
      setPropagation(i % 2 === 0);
      await call();
    }
    const off: number[] = [];
    const on: number[] = [];
    // Call by call, in pairs whose order alternates: on this small, shared machine, drift between
    // blocks of calls moved an A/A comparison by ±20 %; adjacent calls see the same load.
    for (let i = 0; i < N; i++) {
      const first = i % 2 === 0;
      for (const state of [first, !first]) {
        setPropagation(state);
        (state ? on : off).push(await time(call));
      }
    }
    runtime.reset();
    const a = stats(off, 'greets with propagation off');
    const b = stats(on, 'greets with propagation on');
    const ratioP50 = b.p50 / a.p50;
    console.error(`\nnode ${process.version}, ${N} warm greets each (greet handler in-process), loopback, 2 Greeter processes\n`);
    for (const line of latencyTable([
      ['propagation off', a],
      ['propagation on', b],
    ]))
      console.error(line);
    console.error(
      `\non / off: p50 ${ratioP50.toFixed(3)}x (${b.p50 - a.p50 >= 0 ? '+' : ''}${(b.p50 - a.p50).toFixed(3)} ms), target ≤ ${TARGET}x   p99 ${(b.p99 / a.p99).toFixed(3)}x`,
    );
    writeResult('tracing', { off: a, on: b, ratioP50, ratioP99: b.p99 / a.p99, target: TARGET });
  } finally {
    delete process.env._X_AMZN_TRACE_ID;
    delete process.env.TRACE_PROPAGATION;
    await stack.stop();
  }
}

runMain(main);
