/**
 * `node --import tsx bench/tracing.bench.ts`: what trace propagation costs a warm greet. The greet
 * handler, as esbuild bundles it for deployment (bench/shipped-function.ts), runs in-process, as Lambda calls it, against a real Consul with ACLs and two real Greeter
 * processes. Each invocation gets what Lambda gives one behind an HTTP API: its own `_X_AMZN_TRACE_ID`
 * and an event with the API's usual headers (its `X-Amzn-Trace-Id` among them), the same for both
 * arms. With propagation on, each invocation derives its trace, names it for the logger, sends
 * traceparent and x-amzn-trace-id on the call, and the Greeter parses them; off
 * (TRACE_PROPAGATION=false) none of that. The Greeter's log line per traced call is silenced
 * (GREETER_LOG_TRACED_CALLS=0): the stack reads the Greeters' stderr in this very process, a cost a
 * deployed gateway never has.
 *
 * Five arms, call by call in an order that cycles through every order of the five, so each arm
 * follows each other arm as often: greet off, on, and off again (off-again / off is the A/A figure:
 * the noise a ratio of this run carries); and raw grpc-js on one channel to the same two Greeters,
 * without metadata and with the very headers greet sent for that invocation (made ahead of time).
 * raw+trace / raw is the floor: what carrying the headers costs grpc-js, HTTP/2 and the Greeter,
 * which no gateway that propagates on every call can go under. Target: on / off ≤ 1.02× at p50.
 */
import { randomBytes } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type * as GreetModule from '../functions/greet';
import { traceOfEvent } from '../lib/http/trace-headers';
import { traceHeaders } from '../lib/tracing/trace-context';
import { httpEvent, lambdaContext } from '../scripts/support/lambda-events';
import { latencyTable } from './format';
import { runMain, stats, time } from './measure';
import { rawClient, rawSayHello } from './raw-greeter';
import { writeResult } from './results';
import { importShipped } from './shipped-function';
import { startWarmStack } from './warm-stack';

const N = Number(process.env.BENCH_N ?? 2000);
const TARGET = 1.02;
const ARMS = ['off', 'on', 'off again', 'raw', 'raw+trace'] as const;
type Arm = (typeof ARMS)[number];

/** Every order of `items` (5 arms: 120). */
function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((x, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [x, ...rest]));
}
const ORDERS = permutations(ARMS);

/** What Lambda hands one invocation behind an HTTP API: its X-Ray header and its event (distinct per invocation). */
interface Invocation {
  xray: string;
  event: APIGatewayProxyEventV2;
  /** The metadata greet sends for this invocation with propagation on (for the raw+trace arm). */
  headers: Readonly<Record<string, string>>;
}

function invocations(count: number): Invocation[] {
  return Array.from({ length: count }, () => {
    const root = `1-${randomBytes(4).toString('hex')}-${randomBytes(12).toString('hex')}`;
    const xray = `Root=${root};Parent=${randomBytes(8).toString('hex')};Sampled=1`;
    const event = httpEvent('GET', {
      name: 'bench',
      headers: {
        accept: '*/*',
        'content-length': '0',
        host: 'abc123.execute-api.eu-west-1.amazonaws.com',
        'user-agent': 'curl/8.5.0',
        'x-amzn-trace-id': `Root=${root}`,
        'x-forwarded-for': '203.0.113.7',
        'x-forwarded-port': '443',
        'x-forwarded-proto': 'https',
      },
    });
    process.env.TRACE_PROPAGATION = 'true';
    process.env._X_AMZN_TRACE_ID = xray;
    const trace = traceOfEvent(event);
    if (!trace) throw new Error('trace propagation did not turn on');
    return { xray, event, headers: traceHeaders(trace) };
  });
}

async function main(): Promise<void> {
  const shipped = await importShipped<typeof GreetModule>('greet');
  const { handler, runtime } = shipped.module;
  const {
    stack,
    greeters: [a, b],
  } = await startWarmStack('config/greeter-gateway/bench-tracing/', ['tracing-1', 'tracing-2'], { leaseEnabled: 'false' }).catch(
    (err: unknown) => {
      shipped.remove();
      throw err;
    },
  );
  const raw = rawClient([a.port, b.port]);
  try {
    runtime.logger.setLogLevel('WARN');
    const pool = invocations(1024);
    let next = 0;
    const call = async (arm: Arm) => {
      const inv = pool[next++ % pool.length]!;
      if (arm === 'raw' || arm === 'raw+trace') return rawSayHello(raw, 'bench', arm === 'raw' ? undefined : inv.headers);
      process.env.TRACE_PROPAGATION = arm === 'on' ? 'true' : 'false';
      process.env._X_AMZN_TRACE_ID = inv.xray;
      const res = await handler(inv.event, lambdaContext());
      if (res.statusCode !== 200) throw new Error(`greet answered ${res.statusCode}: ${res.body}`);
    };
    for (let i = 0; i < 300; i++) await call(ARMS[i % ARMS.length]!);
    const samples: Record<Arm, number[]> = { off: [], on: [], 'off again': [], raw: [], 'raw+trace': [] };
    // Call by call: on this small, shared machine, drift between blocks of calls moved an A/A
    // comparison by ±20 %; adjacent calls see the same load.
    for (let i = 0; i < N; i++)
      for (const a of ORDERS[i % ORDERS.length]!) {
        samples[a].push(await time(() => call(a)));
      }
    const off = stats(samples.off, 'greets with propagation off');
    const on = stats(samples.on, 'greets with propagation on');
    const again = stats(samples['off again'], 'greets with propagation off (A/A)');
    const bare = stats(samples.raw, 'raw grpc-js calls');
    const carrying = stats(samples['raw+trace'], 'raw grpc-js calls with the trace headers');
    const ratioP50 = on.p50 / off.p50;
    const aaRatioP50 = again.p50 / off.p50;
    const floorRatioP50 = carrying.p50 / bare.p50;
    // The least on / off any gateway could show here: greet's own latency plus only what carrying the headers costs.
    const leastOnOffP50 = (off.p50 + carrying.p50 - bare.p50) / off.p50;
    const us = (ms: number) => `${ms >= 0 ? '+' : ''}${(ms * 1000).toFixed(0)} µs`;
    console.error(`\nnode ${process.version}, ${N} warm greets per arm (greet handler in-process), loopback, 2 Greeter processes\n`);
    for (const line of latencyTable([
      ['propagation off', off],
      ['propagation on', on],
      ['off again (A/A)', again],
      ['raw grpc-js', bare],
      ['raw + the same headers', carrying],
    ]))
      console.error(line);
    console.error(
      `\non / off: p50 ${ratioP50.toFixed(3)}x (${us(on.p50 - off.p50)}), target ≤ ${TARGET}x   p99 ${(on.p99 / off.p99).toFixed(3)}x`,
    );
    console.error(`A/A (off again / off): p50 ${aaRatioP50.toFixed(3)}x (${us(again.p50 - off.p50)}): the noise of this run`);
    console.error(
      `floor (raw + the same headers / raw): p50 ${floorRatioP50.toFixed(3)}x (${us(carrying.p50 - bare.p50)}); greet's own share: ${us(on.p50 - off.p50 - (carrying.p50 - bare.p50))}; least on / off possible: ${leastOnOffP50.toFixed(3)}x`,
    );
    writeResult('tracing', {
      off,
      on,
      offAgain: again,
      raw: bare,
      rawTrace: carrying,
      ratioP50,
      ratioP99: on.p99 / off.p99,
      aaRatioP50,
      floorRatioP50,
      leastOnOffP50,
      target: TARGET,
    });
  } finally {
    raw.close();
    runtime.reset();
    shipped.remove();
    delete process.env._X_AMZN_TRACE_ID;
    delete process.env.TRACE_PROPAGATION;
    await stack.stop();
  }
}

runMain(main);
