/**
 * `npm run bench`: warm `greet` invocations (handler called in-process, real
 * Consul with ACLs, two local Greeter backends) against baselines measured in
 * the same run: a raw grpc-js call on a reused channel to a fixed address, and
 * the seed article's new-client-per-call. Prints p50/p99 and ratios.
 */
import { credentials, Metadata } from '@grpc/grpc-js';
import { handler as greetHandler, runtime } from '../functions/greet';
import { GreeterClient } from '../proto/gen/helloworld';
import { httpEvent, lambdaContext, startTestStack } from '../test/integration/harness';
import { stats, time } from './measure';

const N = Number(process.env.BENCH_N ?? 3000);
const BLOCK = 100;

function rawCall(client: GreeterClient, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    client.sayHello({ name }, new Metadata(), { deadline: Date.now() + 2_000 }, (err: Error | null) => (err ? reject(err) : resolve()));
  });
}

async function greetOnce(name: string): Promise<void> {
  const res = await greetHandler(httpEvent('GET', { name }), lambdaContext());
  if (res.statusCode !== 200) throw new Error(`greet answered ${res.statusCode}: ${res.body}`);
}

async function main(): Promise<void> {
  runtime.logger.setLogLevel('ERROR');
  const stack = await startTestStack('config/greeter-gateway/bench/');
  try {
    await stack.setConfig({ discoveryMinIntervalMs: '0' });
    const [a] = [await stack.addGreeter({ id: 'bench-1' }), await stack.addGreeter({ id: 'bench-2' })];
    if (!a) throw new Error('no backend');
    process.env.CONSUL_HTTP_ADDR = stack.consul.address;
    process.env.CONSUL_HTTP_TOKEN = stack.gatewayToken;
    process.env.CONFIG_PREFIX = stack.prefix;

    // Cold starts: config read + lease registration + first discovery answer + new
    // channel + first call; alternated with the lease off to isolate its cost.
    const cold: number[] = [];
    const coldNoLease: number[] = [];
    for (let i = 0; i < 40; i++) {
      const lease = i % 2 === 0;
      await stack.setConfig({ leaseEnabled: String(lease) });
      runtime.reset();
      (lease ? cold : coldNoLease).push(await time(() => greetOnce(`cold${i}`)));
    }
    await stack.setConfig({ leaseEnabled: 'true' });

    const raw = new GreeterClient(`127.0.0.1:${a.port}`, credentials.createInsecure());
    for (let i = 0; i < 300; i++) {
      await rawCall(raw, 'warm');
      await greetOnce('warm');
    }
    // Interleave blocks so drift on a shared 2-core machine hits both sides alike.
    const greetSamples: number[] = [];
    const rawSamples: number[] = [];
    for (let done = 0; done < N; done += BLOCK) {
      for (let i = 0; i < BLOCK; i++) rawSamples.push(await time(() => rawCall(raw, `r${i}`)));
      for (let i = 0; i < BLOCK; i++) greetSamples.push(await time(() => greetOnce(`g${i}`)));
    }
    const perCall: number[] = [];
    for (let i = 0; i < 300; i++) {
      perCall.push(
        await time(async () => {
          // A local subchannel pool, or grpc-js would hand the new client the old connection.
          const c = new GreeterClient(`127.0.0.1:${a.port}`, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
          await rawCall(c, 'seed');
          c.close();
        }),
      );
    }
    raw.close();

    const g = stats(greetSamples);
    const r = stats(rawSamples);
    const p = stats(perCall);
    const c = stats(cold);
    const cn = stats(coldNoLease);
    const fmt = (x: number) => x.toFixed(3).padStart(8);
    console.log(`\nnode ${process.version}, ${N} warm calls each, loopback, 2 backends\n`);
    console.log('case                                   n      p50 ms   p99 ms  mean ms');
    console.log(`raw grpc-js, reused channel, fixed  ${String(r.n).padStart(5)} ${fmt(r.p50)} ${fmt(r.p99)} ${fmt(r.mean)}`);
    console.log(`greet handler, warm (Consul-routed) ${String(g.n).padStart(5)} ${fmt(g.p50)} ${fmt(g.p99)} ${fmt(g.mean)}`);
    console.log(`new client per call (seed article)  ${String(p.n).padStart(5)} ${fmt(p.p50)} ${fmt(p.p99)} ${fmt(p.mean)}`);
    console.log(`greet handler, cold start           ${String(c.n).padStart(5)} ${fmt(c.p50)} ${fmt(c.p99)} ${fmt(c.mean)}`);
    console.log(`greet handler, cold start, no lease ${String(cn.n).padStart(5)} ${fmt(cn.p50)} ${fmt(cn.p99)} ${fmt(cn.mean)}`);
    console.log(`\nratio warm greet / raw:          p50 ${(g.p50 / r.p50).toFixed(2)}x   p99 ${(g.p99 / r.p99).toFixed(2)}x`);
    console.log(`ratio new-client-per-call / raw: p50 ${(p.p50 / r.p50).toFixed(2)}x   p99 ${(p.p99 / r.p99).toFixed(2)}x`);
    console.log(`lease cost on cold start:        median +${(c.p50 - cn.p50).toFixed(3)} ms`);
  } finally {
    runtime.reset();
    await stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
