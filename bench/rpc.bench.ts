/**
 * The generic HTTP → gRPC route (functions/rpc.ts) against the Greeter-specific one (functions/greet.ts),
 * in the same run: both handlers called in-process, warm, in interleaved turns, against real Consul
 * (ACLs on) and the same two real Greeter backends; also the route to a real Echo backend, the
 * in-process cold start of both handlers, and their bundles (esbuild with serverless.yml's settings)
 * with the time a fresh Node takes to import each. Target: rpc/greet warm p50 ≤ 1.05. The warm paths
 * are measured by bench/measure.ts `interleaved`, as the other benches measure theirs.
 * Writes bench/out/rpc.json (section `rpc`); prints the rows.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { handler as greetHandler, runtime as greetRuntime } from '../functions/greet';
import { handler as rpcHandler, runtime as rpcRuntime } from '../functions/rpc';
import { startFunctionStack } from '../scripts/stack/function-stack';
import { stopProcess } from '../scripts/stack/processes';
import { eventually } from '../scripts/support/poll-until';
import { passingIds } from '../scripts/stack/passing';
import { httpEvent, lambdaContext } from '../scripts/support/lambda-events';
import { startEcho, type GreeterBackend } from '../scripts/stack/greeters';
import { echoBackendToken, rpcToken as provisionRpcToken } from '../scripts/stack/tokens';
import { RPC_PREFIX, rpcEvent } from '../test/integration/rpc-support';
import { kvPut } from '../lib/consul/kv';
import { interleaved, ratio, round, runMain, stats, time } from './measure';
import { OUT_DIR, writeResult } from './results';

const N = Number(process.env.BENCH_N ?? 3000);
const BLOCK = 20;
const COLD = 20;
const IMPORTS = 10;

async function ok(res: Promise<{ statusCode?: number; body?: string }>, what: string): Promise<void> {
  const r = await res;
  if (r.statusCode !== 200) throw new Error(`${what} answered ${r.statusCode}: ${String(r.body)}`);
}

const greet = (i: number) => ok(greetHandler(httpEvent('POST', { body: JSON.stringify({ name: `g${i}` }) }), lambdaContext()), 'greet');
const greetGet = (i: number) => ok(greetHandler(httpEvent('GET', { name: `h${i}` }), lambdaContext()), 'greet GET');
const rpcGreeter = (i: number) =>
  ok(rpcHandler(rpcEvent('POST', '/rpc/helloworld.Greeter/SayHello', { body: { name: `r${i}` } }), lambdaContext()), 'rpc Greeter');
const ECHO_BODY = { message: 'hi', count: 2, mood: 'MOOD_HAPPY', tags: ['a'], sentAt: '2024-01-01T00:00:00Z', payload: 'AQI=' };
const rpcEcho = () => ok(rpcHandler(rpcEvent('POST', '/rpc/echo.v1.Echo/Say', { body: ECHO_BODY }), lambdaContext()), 'rpc Echo');

/** Each bundle built as serverless.yml builds it, its size and the median time a fresh Node takes to import it. */
async function bundles(): Promise<Record<string, { kib: number; importMs: number }>> {
  // Inside the checkout, so the bundles' externals resolve from node_modules (Lambda's runtime ships the SDK).
  mkdirSync(OUT_DIR, { recursive: true });
  const dir = mkdtempSync(join(OUT_DIR, 'rpc-bundles-'));
  try {
    const out: Record<string, { kib: number; importMs: number; samples: number[] }> = {};
    for (const fn of ['greet', 'rpc']) {
      const file = join(dir, `${fn}.mjs`);
      await build({
        entryPoints: [join(__dirname, '..', 'functions', `${fn}.ts`)],
        outfile: file,
        bundle: true,
        minify: true,
        sourcemap: false,
        target: 'node20',
        platform: 'node',
        format: 'esm',
        mainFields: ['module', 'main'],
        legalComments: 'none',
        external: ['@aws-sdk/client-ssm', '@grpc/proto-loader', '@aws-sdk/client-servicediscovery'],
        banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
      });
      out[fn] = { kib: round(statSync(file).size / 1024, 1), importMs: 0, samples: [] };
    }
    const script = 'const t = performance.now(); await import(process.argv[1]); console.log(performance.now() - t);';
    for (let i = 0; i < IMPORTS; i++)
      for (const fn of Object.keys(out)) {
        const ms = Number(
          execFileSync(process.execPath, ['--input-type=module', '-e', script, join(dir, `${fn}.mjs`)], { encoding: 'utf8' }),
        );
        out[fn]!.samples.push(ms);
      }
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { kib: v.kib, importMs: round(stats(v.samples).p50, 1) }]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  greetRuntime.logger.setLogLevel('ERROR');
  rpcRuntime.logger.setLogLevel('ERROR');
  const stack = await startFunctionStack('config/greeter-gateway/bench/');
  let echo: GreeterBackend | undefined;
  try {
    await stack.setConfig({ discoveryMinIntervalMs: '0' });
    await stack.addGreeter({ id: 'rpc-bench-1' });
    await stack.addGreeter({ id: 'rpc-bench-2' });
    echo = await startEcho({
      consulAddress: stack.consul.address,
      token: await echoBackendToken(stack.admin, ['echo']),
      id: 'rpc-bench-echo',
    });
    await eventually(async () => (await passingIds(stack.admin, 'echo')).includes('rpc-bench-echo'), 15_000, 'echo passing');
    const rpcToken = await provisionRpcToken(stack.admin, RPC_PREFIX, ['greeter', 'echo']);
    await kvPut(stack.admin, `${RPC_PREFIX}discoveryMinIntervalMs`, '0');
    await kvPut(stack.admin, `${RPC_PREFIX}rpcAllow`, 'helloworld.Greeter/SayHello,echo.v1.Echo/Say');
    // Each runtime reads its environment when it is built (its first call), so each is built under its own.
    const useGreet = () =>
      Object.assign(process.env, {
        CONSUL_HTTP_ADDR: stack.consul.address,
        CONSUL_HTTP_TOKEN: stack.gatewayToken,
        CONFIG_PREFIX: stack.prefix,
      });
    const useRpc = () =>
      Object.assign(process.env, { CONSUL_HTTP_ADDR: stack.consul.address, CONSUL_HTTP_TOKEN: rpcToken, CONFIG_PREFIX: RPC_PREFIX });

    // In-process cold starts (config, lease, first discovery answer, new channel, first call), alternating.
    const cold: Record<string, number[]> = { greet: [], rpc: [] };
    for (let i = 0; i < COLD; i++) {
      greetRuntime.reset();
      useGreet();
      cold.greet!.push(await time(() => greet(i)));
      rpcRuntime.reset();
      useRpc();
      cold.rpc!.push(await time(() => rpcGreeter(i)));
    }

    // Both runtimes are warm now; each call below reads the environment only through its built runtime.
    const paths = await interleaved(
      { greet: { run: greet }, rpc: { run: rpcGreeter }, greetGet: { run: greetGet }, rpcEcho: { run: rpcEcho } },
      N,
      BLOCK,
    );
    const latency = Object.fromEntries(
      Object.entries(paths).map(([k, p]) => {
        const s = stats(p.samples, k);
        const cpu = stats(p.cpuUs, `${k} CPU`);
        return [k, { n: s.n, p50: round(s.p50), p90: round(s.p90), p99: round(s.p99), mean: round(s.mean), cpuUsP50: round(cpu.p50, 1) }];
      }),
    );
    const coldStats = Object.fromEntries(Object.entries(cold).map(([k, v]) => [k, round(stats(v, `${k} cold`).p50, 1)]));
    const sizes = await bundles();
    const result = {
      latency,
      ratios: {
        'rpc/greet p50': ratio(latency.rpc!.p50, latency.greet!.p50),
        'rpc/greet p99': ratio(latency.rpc!.p99, latency.greet!.p99),
        'rpcEcho/rpc p50': ratio(latency.rpcEcho!.p50, latency.rpc!.p50),
      },
      coldInProcessP50Ms: coldStats,
      bundles: sizes,
      paths: {
        greet: 'greet handler, POST /greet {"name"}, warm',
        rpc: 'rpc handler, POST /rpc/helloworld.Greeter/SayHello {"name"}, warm (same 2 Greeters)',
        greetGet: 'greet handler, GET /hello/{name}, warm',
        rpcEcho: 'rpc handler, POST /rpc/echo.v1.Echo/Say with enum, repeated, Timestamp and bytes fields, warm (1 Echo)',
      },
      warmCallsPerPath: N,
    };
    const file = writeResult('rpc', result);
    console.log(`\nnode ${process.version}, ${N} warm calls per path, loopback\n`);
    for (const [k, l] of Object.entries(latency))
      console.log(`${k.padEnd(9)} p50 ${l.p50.toFixed(3)} ms  p90 ${l.p90.toFixed(3)}  p99 ${l.p99.toFixed(3)}`);
    for (const [k, v] of Object.entries(result.ratios)) console.log(`${k.padEnd(16)} ${v?.toFixed(2)}x`);
    console.log(`cold start in-process p50: greet ${coldStats.greet} ms, rpc ${coldStats.rpc} ms`);
    for (const [k, v] of Object.entries(sizes)) console.log(`bundle ${k}: ${v.kib} KiB, import ${v.importMs} ms`);
    console.log(`\nwrote ${file}`);
  } finally {
    greetRuntime.reset();
    rpcRuntime.reset();
    if (echo) await stopProcess(echo.process, 'SIGKILL');
    await stack.stop();
  }
}

runMain(main);
