/**
 * `node --import tsx bench/tracing.bench.ts`: what trace propagation costs a warm greet. The greet
 * handler runs in-process, as Lambda calls it, against a real Consul with ACLs and two real Greeter
 * processes. Each invocation gets what Lambda gives one behind an HTTP API: its own `_X_AMZN_TRACE_ID`
 * and an event with the API's usual headers (its `X-Amzn-Trace-Id` among them), the same for both
 * arms. With propagation on, each invocation derives its trace, names it for the logger, sends
 * traceparent and x-amzn-trace-id on the call, and the Greeter parses them; off
 * (TRACE_PROPAGATION=false) none of that. The Greeter's log line per traced call is silenced
 * (GREETER_LOG_TRACED_CALLS=0): the stack reads the Greeters' stderr in this very process, a cost a
 * deployed gateway never has.
 *
 * Three arms in one runtime: off, on, and off again, call by call in an order that cycles through all
 * six orders of the three, so each arm follows each other arm as often. off-again / off is the A/A
 * figure: the noise a ratio of this run carries. Target: on / off ≤ 1.02× at p50.
 */
import { randomBytes } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { handler, runtime } from '../functions/greet';
import { httpEvent, lambdaContext } from '../scripts/support/lambda-events';
import { latencyTable } from './format';
import { runMain, stats, time } from './measure';
import { writeResult } from './results';
import { startWarmStack } from './warm-stack';

const N = Number(process.env.BENCH_N ?? 2000);
const TARGET = 1.02;
const ARMS = ['off', 'on', 'off again'] as const;
type Arm = (typeof ARMS)[number];
const ORDERS: ReadonlyArray<readonly [number, number, number]> = [
  [0, 1, 2],
  [1, 2, 0],
  [2, 0, 1],
  [0, 2, 1],
  [2, 1, 0],
  [1, 0, 2],
];

/** What Lambda hands one invocation behind an HTTP API: its X-Ray header and its event (distinct per invocation). */
interface Invocation {
  xray: string;
  event: APIGatewayProxyEventV2;
}

function invocations(count: number): Invocation[] {
  return Array.from({ length: count }, () => {
    const root = `1-${randomBytes(4).toString('hex')}-${randomBytes(12).toString('hex')}`;
    return {
      xray: `Root=${root};Parent=${randomBytes(8).toString('hex')};Sampled=1`,
      event: httpEvent('GET', {
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
      }),
    };
  });
}

async function main(): Promise<void> {
  const { stack } = await startWarmStack('config/greeter-gateway/bench-tracing/', ['tracing-1', 'tracing-2'], { leaseEnabled: 'false' });
  try {
    runtime.logger.setLogLevel('WARN');
    const pool = invocations(1024);
    let next = 0;
    const call = async (arm: Arm) => {
      const inv = pool[next++ % pool.length]!;
      process.env.TRACE_PROPAGATION = arm === 'on' ? 'true' : 'false';
      process.env._X_AMZN_TRACE_ID = inv.xray;
      const res = await handler(inv.event, lambdaContext());
      if (res.statusCode !== 200) throw new Error(`greet answered ${res.statusCode}: ${res.body}`);
    };
    for (let i = 0; i < 300; i++) await call(ARMS[i % ARMS.length]!);
    const samples: Record<Arm, number[]> = { off: [], on: [], 'off again': [] };
    // Call by call: on this small, shared machine, drift between blocks of calls moved an A/A
    // comparison by ±20 %; adjacent calls see the same load.
    for (let i = 0; i < N; i++)
      for (const a of ORDERS[i % ORDERS.length]!) {
        const arm = ARMS[a]!;
        samples[arm].push(await time(() => call(arm)));
      }
    runtime.reset();
    const off = stats(samples.off, 'greets with propagation off');
    const on = stats(samples.on, 'greets with propagation on');
    const again = stats(samples['off again'], 'greets with propagation off (A/A)');
    const ratioP50 = on.p50 / off.p50;
    const aaRatioP50 = again.p50 / off.p50;
    const us = (ms: number) => `${ms >= 0 ? '+' : ''}${(ms * 1000).toFixed(0)} µs`;
    console.error(`\nnode ${process.version}, ${N} warm greets per arm (greet handler in-process), loopback, 2 Greeter processes\n`);
    for (const line of latencyTable([
      ['propagation off', off],
      ['propagation on', on],
      ['off again (A/A)', again],
    ]))
      console.error(line);
    console.error(
      `\non / off: p50 ${ratioP50.toFixed(3)}x (${us(on.p50 - off.p50)}), target ≤ ${TARGET}x   p99 ${(on.p99 / off.p99).toFixed(3)}x`,
    );
    console.error(`A/A (off again / off): p50 ${aaRatioP50.toFixed(3)}x (${us(again.p50 - off.p50)}): the noise of this run`);
    writeResult('tracing', { off, on, offAgain: again, ratioP50, ratioP99: on.p99 / off.p99, aaRatioP50, target: TARGET });
  } finally {
    delete process.env._X_AMZN_TRACE_ID;
    delete process.env.TRACE_PROPAGATION;
    await stack.stop();
  }
}

runMain(main);
