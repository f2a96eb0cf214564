/**
 * `npm run bench:layers`: where a warm greet's CPU goes, layer by layer, measured in place. One
 * runtime of the greet function (in-process, real Consul with ACLs, two real Greeter processes) is
 * entered at each layer in turn, from the bottom up, with calls interleaved in small blocks:
 * - raw: grpc-js on its own channel (round robin), no metadata (bench:warm's baseline);
 * - grpc: grpc-js on greet's own channel (its hedging, retry and outlier-ejection config), no metadata;
 * - grpc+trace: the same with the trace metadata greet sends, a new trace for each call as each
 *   invocation brings one (no X-Ray header here, so traceparent alone). Values repeated call after call
 *   would be indexed by HPACK and cost about 15 µs a call less than real ones;
 * - unaryCall: lib/grpc/unary-call.ts on that channel with that metadata;
 * - invoker: lib/runtime/gateway-invoker.ts (discovery, credentials, channel pool, failover, policy);
 * - use case: lib/greeter/greet.ts (config, lease, metrics, the answer);
 * - handler: functions/greet.ts with an event and a context built once (edge, validation, logger).
 * Each layer's step over the one below is what that layer adds. Measured in CPU per call of this process
 * (the Greeters' CPU is not in it) because single steps of a few µs are lost in latency noise; step
 * sums are not exact, since a layer's code runs colder between calls than in a loop of its own.
 * Runs the TypeScript source through tsx, whose keepNames transform adds a defineProperty to each
 * named closure (the packaged bundle has none): layers with many closures look a little dearer here.
 * Writes bench/out/warm-layers.json (not a published section).
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@grpc/grpc-js';
import { handler, runtime } from '../functions/greet';
import { greet, greeterQuery } from '../lib/greeter/greet';
import { SAY_HELLO, SAY_HELLO_HEDGED } from '../lib/greeter/say-hello';
import { consulTarget } from '../lib/grpc/consul-target';
import { unaryCall } from '../lib/grpc/unary-call';
import { traceOfEvent } from '../lib/http/trace-headers';
import { invokeUnary } from '../lib/runtime/gateway-invoker';
import { presentedIdentity } from '../lib/runtime/gateway-keys';
import { traceHeaders } from '../lib/tracing/trace-context';
import { httpEvent, lambdaContext } from '../scripts/support/lambda-events';
import { interleaved, round, runMain, stats } from './measure';
import { rawClient, RAW_CALL_MS, rawSayHello } from './raw-greeter';
import { OUT_DIR, runInfo } from './results';
import { startWarmStack } from './warm-stack';

const N = Number(process.env.BENCH_N ?? 4000);
const BLOCK = 25;

async function main(): Promise<void> {
  const {
    stack,
    greeters: [a, b],
  } = await startWarmStack('config/greeter-gateway/bench-layers/', ['layers-1', 'layers-2']);
  const clients: Client[] = [];
  try {
    runtime.logger.setLogLevel('ERROR');
    // The event and context are built once: their making is the harness's cost, not greet's.
    const event = httpEvent('GET', { name: 'layers' });
    const context = lambdaContext(600_000);
    const first = await handler(event, context);
    if (first.statusCode !== 200) throw new Error(`greet answered ${first.statusCode}: ${String(first.body)}`);

    const rt = runtime.get();
    const cfg = rt.config.values();
    const query = greeterQuery(cfg);
    // Each invocation has a trace of its own (this event carries none, so a fresh one each time).
    const newTrace = () => {
      const trace = traceOfEvent(event);
      if (!trace) throw new Error('trace propagation is off: the trace layers would measure nothing');
      return trace;
    };
    const metadata = () => traceHeaders(newTrace());
    const channel = rt.channels.get(SAY_HELLO.service, consulTarget(query), cfg.channelMaxIdleMs);
    const raw = rawClient([a.port, b.port]);
    clients.push(raw);
    const route = { query, transport: 'plaintext' as const, tlsServerName: cfg.greeterTlsServerName, identity: presentedIdentity(cfg) };
    const ok = async (res: Promise<{ statusCode?: number }>) => {
      const r = await res;
      if (r.statusCode !== 200) throw new Error(`greet answered ${r.statusCode}`);
    };

    const layers = {
      raw: { run: (i: number) => rawSayHello(raw, `r${i}`) },
      grpc: { run: (i: number) => rawSayHello(channel, `g${i}`) },
      'grpc+trace': { run: (i: number) => rawSayHello(channel, `t${i}`, metadata()) },
      unaryCall: {
        run: (i: number) => unaryCall(channel, SAY_HELLO, { name: `u${i}` }, { deadline: Date.now() + RAW_CALL_MS, metadata: metadata() }),
      },
      invoker: {
        run: (i: number) =>
          invokeUnary(rt, cfg, {
            method: SAY_HELLO,
            hedged: SAY_HELLO_HEDGED,
            request: { name: `i${i}` },
            route,
            metadata: metadata(),
            remainingMs: () => RAW_CALL_MS,
            configRead: true,
          }),
      },
      'use case': { run: (i: number) => greet(rt, `c${i}`, () => RAW_CALL_MS, newTrace()) },
      handler: { run: () => ok(handler(event, context)) },
    };
    const measured = await interleaved(layers, N, BLOCK);
    const rows = Object.entries(measured).map(([layer, p], k, all) => {
      const cpuUs = stats(p.cpuUs, `${layer} CPU`).p50;
      const below = k > 0 ? stats(all[k - 1]![1].cpuUs, 'layer below').p50 : undefined;
      return {
        layer,
        cpuUsPerCall: round(cpuUs, 1),
        stepUs: below === undefined ? undefined : round(cpuUs - below, 1),
        p50Ms: round(stats(p.samples).p50),
      };
    });
    const rawCpu = rows[0]!.cpuUsPerCall;
    console.log(`\nnode ${process.version}, ${N} warm calls per layer, CPU per call of this process (median of ${BLOCK}-call turns)\n`);
    console.log('layer          CPU µs   step µs  × raw   p50 ms');
    for (const r of rows)
      console.log(
        `${r.layer.padEnd(12)} ${r.cpuUsPerCall.toFixed(1).padStart(8)} ${r.stepUs === undefined ? '        ' : r.stepUs.toFixed(1).padStart(8)}  ${(r.cpuUsPerCall / rawCpu).toFixed(2)}  ${r.p50Ms.toFixed(3).padStart(7)}`,
      );
    mkdirSync(OUT_DIR, { recursive: true });
    const file = join(OUT_DIR, 'warm-layers.json');
    writeFileSync(file, `${JSON.stringify({ section: 'warm-layers', run: runInfo(), callsPerLayer: N, layers: rows }, null, 2)}\n`);
    console.log(`\nwrote ${file}`);
  } finally {
    for (const c of clients) c.close();
    runtime.reset();
    await stack.stop();
  }
}

runMain(main);
