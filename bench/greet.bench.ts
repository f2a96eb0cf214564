/**
 * `npm run bench:warm`: warm `greet` invocations (the handler as esbuild bundles it for deployment,
 * bench/shipped-function.ts, called in-process; real Consul
 * with ACLs, two real Greeter backends) against baselines measured in the same run, in
 * interleaved turns so that drift on a shared machine hits every path alike:
 * - raw: grpc-js on one reused channel to the fixed addresses of the same two backends
 *   (round robin), the floor for "call these backends";
 * - raw1: the same to one fixed address (what a single-backend client would see);
 * - raw+trace: raw with the trace metadata greet sends (a new trace per call, made before the
 *   call by greet's own functions), the floor for "call these backends and propagate the trace";
 * - seed: the seed article's pattern per request: a Consul HTTP lookup of the passing
 *   instances, then a new client (own subchannel pool, so a new connection) and a call.
 * Then warm throughput of one environment with 16 requests in flight, greet against raw and
 * raw+trace, and the in-process cost of the lease on a cold start. Writes bench/out/warm.json (`--publish`: also bench/results/).
 */
import { credentials, type Client } from '@grpc/grpc-js';
import type * as GreetModule from '../functions/greet';
import { traceOfEvent } from '../lib/http/trace-headers';
import { traceHeaders } from '../lib/tracing/trace-context';
import { GreeterClient } from '../proto/gen/helloworld';
import type { FunctionStack } from '../scripts/stack/function-stack';
import { httpEvent, lambdaContext } from '../scripts/support/lambda-events';
import { rawClient, RAW_CALL_MS, rawSayHello } from './raw-greeter';
import { interleaved, ratio as ratioOf, round, runMain, stats, throughputRounds, time } from './measure';
import { writeResult, type Percentiles, type WarmResult } from './results';
import { importShipped } from './shipped-function';
import { startWarmStack } from './warm-stack';

const N = Number(process.env.BENCH_N ?? 5000);
/** Calls per path in one turn: small, so that a burst of load from elsewhere on the machine falls on every path alike. */
const BLOCK = 20;
/** Seed samples per turn: each costs a lookup and a new connection, so fewer are enough. */
const SEED_BLOCK = 4;
const IN_FLIGHT = 16;
// Rounds of 1,500 calls (about 0.15 s each) let one burst elsewhere on the machine decide a round: three runs in a row
// gave 0.92, 0.85 and 0.66 of raw.
const CONCURRENT_CALLS = Number(process.env.BENCH_CONCURRENT_CALLS ?? 5000);
const CONCURRENT_ROUNDS = 9;

/**
 * The trace metadata greet sends on this bench's invocations, one set per call (each invocation
 * brings a trace of its own), made by greet's own functions ahead of time: the raw+trace path
 * measures what carrying them costs grpc-js, HTTP/2 and the Greeter, not what making them costs.
 */
function traceMetadataPool(size: number): () => Readonly<Record<string, string>> {
  const event = httpEvent('GET', { name: 'bench' });
  const pool = Array.from({ length: size }, () => {
    const trace = traceOfEvent(event);
    if (!trace) throw new Error('trace propagation is off: raw+trace would carry nothing');
    return traceHeaders(trace);
  });
  let next = 0;
  return () => pool[next++ % size]!;
}

/** greet as deployed (bench/shipped-function.ts), set in main. */
let greetFn: typeof GreetModule;

async function greetOnce(name: string): Promise<void> {
  const res = await greetFn.handler(httpEvent('GET', { name }), lambdaContext());
  if (res.statusCode !== 200) throw new Error(`greet answered ${res.statusCode}: ${String(res.body)}`);
}

interface HealthEntry {
  Node: { Address: string };
  Service: { Address: string; Port: number };
}

/** The seed article's request: look the service up in Consul, dial a new client to one instance, call, close. */
async function seedOnce(consulUrl: string, token: string, name: string): Promise<void> {
  const res = await fetch(`${consulUrl}/v1/health/service/greeter?passing`, {
    headers: { 'x-consul-token': token },
    signal: AbortSignal.timeout(RAW_CALL_MS),
  });
  if (!res.ok) throw new Error(`Consul answered ${res.status}`);
  const entries = (await res.json()) as HealthEntry[];
  const pick = entries[Math.floor(Math.random() * entries.length)];
  if (!pick) throw new Error('no passing greeter');
  // A local subchannel pool, or grpc-js would hand the new client the previous client's connection.
  const client = new GreeterClient(`${pick.Service.Address || pick.Node.Address}:${pick.Service.Port}`, credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
  });
  try {
    await rawSayHello(client, name);
  } finally {
    client.close();
  }
}

/** The figures of one path for the results file: the nearest-rank summary (bench/measure.ts), rounded. */
function pathFigures(path: string, samples: number[]): { path: string } & Percentiles {
  const s = stats(samples, `${path} latencies`);
  return { path, n: s.n, p50: round(s.p50), p90: round(s.p90), p99: round(s.p99), mean: round(s.mean) };
}

/** Cold starts in-process (config, lease, first discovery answer, new channel, first call), alternating the lease on and off. */
async function inProcessColdStarts(
  stack: FunctionStack,
): Promise<{ withLease: Percentiles; withoutLease: Percentiles; leaseCostMs: number }> {
  const on: number[] = [];
  const off: number[] = [];
  for (let i = 0; i < 40; i++) {
    const lease = i % 2 === 0;
    await stack.setConfig({ leaseEnabled: String(lease) });
    greetFn.runtime.reset();
    (lease ? on : off).push(await time(() => greetOnce(`cold${i}`)));
  }
  await stack.setConfig({ leaseEnabled: 'true' });
  greetFn.runtime.reset();
  const a = pathFigures('lease on', on);
  const b = pathFigures('lease off', off);
  return { withLease: a, withoutLease: b, leaseCostMs: round(a.p50 - b.p50) };
}

async function main(): Promise<void> {
  const shipped = await importShipped<typeof GreetModule>('greet');
  greetFn = shipped.module;
  greetFn.runtime.logger.setLogLevel('ERROR');
  const {
    stack,
    greeters: [a, b],
  } = await startWarmStack('config/greeter-gateway/bench/', ['bench-1', 'bench-2']).catch((err: unknown) => {
    shipped.remove();
    throw err;
  });
  const clients: Client[] = [];
  try {
    const consulUrl = /^https?:\/\//.test(stack.consul.address) ? stack.consul.address : `http://${stack.consul.address}`;

    const coldInProcess = await inProcessColdStarts(stack);

    const raw = rawClient([a.port, b.port]);
    const raw1 = rawClient([a.port]);
    clients.push(raw, raw1);
    const traced = traceMetadataPool(32_768);
    const paths = await interleaved(
      {
        raw: { run: (i) => rawSayHello(raw, `r${i}`) },
        greet: { run: (i) => greetOnce(`g${i}`) },
        'raw+trace': { run: (i) => rawSayHello(raw, `t${i}`, traced()) },
        raw1: { run: (i) => rawSayHello(raw1, `o${i}`) },
        seed: { run: (i) => seedOnce(consulUrl, stack.gatewayToken, `s${i}`), block: SEED_BLOCK },
      },
      N,
      BLOCK,
    );

    // Throughput: take turns so that none gets the quieter moment of the machine; keep the median round.
    const rates = await throughputRounds(
      { raw: () => rawSayHello(raw, 'c'), greet: () => greetOnce('c'), 'raw+trace': () => rawSayHello(raw, 'c', traced()) },
      { total: CONCURRENT_CALLS, inFlight: IN_FLIGHT, rounds: CONCURRENT_ROUNDS },
    );
    const greetPerSec = stats(rates.greet, 'greet throughput rounds').p50;
    const rawPerSec = stats(rates.raw, 'raw throughput rounds').p50;
    const tracedPerSec = stats(rates['raw+trace'], 'raw+trace throughput rounds').p50;

    const latency = Object.entries(paths).map(([path, p]) => pathFigures(path, p.samples));
    const by = Object.fromEntries(latency.map((l) => [l.path, l]));
    const ratio = (x: string, y: string, q: 'p50' | 'p90' | 'p99') => {
      const r = ratioOf(by[x]?.[q], by[y]?.[q]);
      if (r === undefined) throw new Error(`no ${q} ratio of ${x} to ${y}`);
      return r;
    };
    const result: WarmResult = {
      latency,
      ratios: {
        'greet/raw p50': ratio('greet', 'raw', 'p50'),
        'greet/raw p90': ratio('greet', 'raw', 'p90'),
        'greet/raw p99': ratio('greet', 'raw', 'p99'),
        'seed/greet p50': ratio('seed', 'greet', 'p50'),
        'seed/greet p99': ratio('seed', 'greet', 'p99'),
        'greet/raw1 p50': ratio('greet', 'raw1', 'p50'),
        'greet/raw1 p99': ratio('greet', 'raw1', 'p99'),
        'raw/raw1 p50': ratio('raw', 'raw1', 'p50'),
        'raw+trace/raw p50': ratio('raw+trace', 'raw', 'p50'),
        'greet/raw+trace p50': ratio('greet', 'raw+trace', 'p50'),
      },
      concurrency: {
        inFlight: IN_FLIGHT,
        greetPerSec: Math.round(greetPerSec),
        rawPerSec: Math.round(rawPerSec),
        ratio: ratioOf(greetPerSec, rawPerSec) ?? 0,
        rawTracePerSec: Math.round(tracedPerSec),
        rawTraceRatio: ratioOf(tracedPerSec, rawPerSec) ?? 0,
      },
      paths: {
        raw: 'grpc-js, one reused channel, fixed addresses of the same 2 backends, round robin',
        raw1: 'grpc-js, one reused channel, one fixed address',
        'raw+trace': "raw, with the trace metadata greet sends (greet's own functions made a new trace per call before the call)",
        greet:
          'greet handler as bundled for deployment, in-process, warm: Consul-routed channel with hedging, outlier ejection and retry budget',
        seed: 'per request: Consul /v1/health/service/greeter?passing over HTTP, new client (own subchannel pool), call, close',
      },
      // This process's CPU per call (all its threads; the backends' own CPU is not in it), median of the turns:
      // less sensitive than latency to what else runs on the machine.
      cpuPerCallUs: Object.fromEntries(
        Object.entries(paths).map(([path, p]) => [path, Math.round(stats(p.cpuUs, `${path} CPU times`).p50)]),
      ),
      backends: 2,
      warmCallsPerPath: N,
      coldInProcess,
    };

    const fmt = (x: number) => x.toFixed(3).padStart(8);
    console.log(`\nnode ${process.version}, ${N} warm calls per path (seed ${by.seed!.n}), loopback, 2 backends\n`);
    console.log('path          n      p50 ms   p90 ms   p99 ms  mean ms');
    for (const l of latency)
      console.log(
        `${l.path.padEnd(9)} ${String(l.n).padStart(5)} ${fmt(l.p50)} ${l.p90 === undefined ? '       –' : fmt(l.p90)} ${fmt(l.p99)} ${fmt(l.mean)}`,
      );
    console.log('');
    for (const [k, v] of Object.entries(result.ratios)) console.log(`${k.padEnd(16)} ${v.toFixed(2)}x`);
    console.log(
      `\nCPU per call (this process, median turn): ${Object.entries(result.cpuPerCallUs as Record<string, number>)
        .map(([k, v]) => `${k} ${v} µs`)
        .join(', ')}`,
    );
    console.log(
      `${IN_FLIGHT} in flight: greet ${Math.round(greetPerSec)} calls/s, raw ${Math.round(rawPerSec)} calls/s, ratio ${result.concurrency?.ratio.toFixed(2)}; ` +
        `raw+trace ${Math.round(tracedPerSec)} calls/s, ratio to raw ${result.concurrency?.rawTraceRatio?.toFixed(2)}`,
    );
    console.log(
      `in-process cold start: ${coldInProcess.withLease.p50.toFixed(1)} ms with lease, ${coldInProcess.withoutLease.p50.toFixed(1)} ms without (median lease cost ${coldInProcess.leaseCostMs} ms)`,
    );
    console.log(`\nwrote ${writeResult('warm', result)}`);
  } finally {
    for (const c of clients) c.close();
    greetFn.runtime.reset();
    shipped.remove();
    await stack.stop();
  }
}

runMain(main);
