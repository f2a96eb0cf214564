/**
 * `node --import tsx bench/connect-mtls.bench.ts`: the warm-path cost of Connect-native mTLS against
 * plaintext in the same run. Two gateway runtimes (one per transport, each with its own config prefix)
 * greet through the greet use case in-process, against a real Consul with ACLs and two backends per
 * transport; blocks interleave (bench/measure.ts) so drift on a shared machine hits both alike. Also: cold starts per
 * transport (config, discovery, and for mTLS the leaf + roots and the first handshake).
 */
import { kvPut } from '../lib/consul/kv';
import { createGatewayRuntime, type GatewayRuntime } from '../lib/greeter/gateway-runtime';
import { greet } from '../lib/greeter/greet';
import { silentLog } from '../lib/log/logger';
import { startFunctionStack } from '../scripts/stack/function-stack';
import { latencyTable } from './format';
import { interleaved, runMain, stats, time } from './measure';

const N = Number(process.env.BENCH_N ?? 2000);
const BLOCK = 100;
const PREFIX = 'config/greeter-gateway/bench/';

function runtimeFor(prefix: string): GatewayRuntime {
  process.env.CONFIG_PREFIX = prefix;
  return createGatewayRuntime(silentLog);
}

async function main(): Promise<void> {
  const stack = await startFunctionStack(PREFIX);
  try {
    const put = async (sub: string, values: Record<string, string>) => {
      for (const [k, v] of Object.entries(values)) await kvPut(stack.admin, `${PREFIX}${sub}${k}`, v);
    };
    await put('plain/', { discoveryMinIntervalMs: '0', greeterTag: 'plain' });
    await put('mtls/', { discoveryMinIntervalMs: '0', greeterTag: 'mtls', greeterTransport: 'connect' });
    await stack.admin.request(
      'bench.intention',
      {},
      {
        method: 'PUT',
        path: '/connect/intentions/exact',
        query: { source: 'greeter-gateway-lambda', destination: 'greeter' },
        body: { Action: 'allow' },
      },
    );
    await stack.addGreeter({ id: 'plain-1', tags: ['plain'] });
    await stack.addGreeter({ id: 'plain-2', tags: ['plain'] });
    await stack.addGreeter({ id: 'mtls-1', tags: ['mtls'], connect: true });
    await stack.addGreeter({ id: 'mtls-2', tags: ['mtls'], connect: true });
    process.env.CONSUL_HTTP_ADDR = stack.consul.address;
    process.env.CONSUL_HTTP_TOKEN = stack.gatewayToken;

    const call = (rt: GatewayRuntime, name: string) => greet(rt, name, () => 10_000);
    const coldPlain: number[] = [];
    const coldMtls: number[] = [];
    for (let i = 0; i < 20; i++) {
      for (const [sub, out] of [
        ['plain/', coldPlain],
        ['mtls/', coldMtls],
      ] as const) {
        const rt = runtimeFor(`${PREFIX}${sub}`);
        out.push(await time(() => call(rt, 'cold')));
        rt.close();
      }
    }

    const plain = runtimeFor(`${PREFIX}plain/`);
    const mtls = runtimeFor(`${PREFIX}mtls/`);
    const warm = await interleaved({ plain: { run: (i) => call(plain, `p${i}`) }, mtls: { run: (i) => call(mtls, `m${i}`) } }, N, BLOCK);
    const served = new Set<string>();
    for (let i = 0; i < 20; i++) served.add((await call(mtls, 'who')).servedBy.id);
    if ([...served].some((id) => !id.startsWith('mtls-'))) throw new Error(`the mTLS runtime was served by ${[...served].join(', ')}`);
    plain.close();
    mtls.close();

    const sp = stats(warm.plain.samples);
    const sm = stats(warm.mtls.samples);
    const cp = stats(coldPlain);
    const cm = stats(coldMtls);
    console.log(`\nnode ${process.version}, ${N} warm greets per transport (greet use case in-process), loopback, 2 backends each\n`);
    const rows = [
      ['warm greet, plaintext', sp],
      ['warm greet, Connect mTLS', sm],
      ['cold start, plaintext', cp],
      ['cold start, Connect mTLS', cm],
    ] as const;
    for (const line of latencyTable(rows)) console.log(line);
    console.log(
      `\nwarm mTLS / plaintext: p50 ${(sm.p50 / sp.p50).toFixed(2)}x (+${(sm.p50 - sp.p50).toFixed(3)} ms)   p99 ${(sm.p99 / sp.p99).toFixed(2)}x`,
    );
    console.log(`cold mTLS - plaintext: median +${(cm.p50 - cp.p50).toFixed(3)} ms`);
    console.log(`mTLS calls served by: ${[...served].sort().join(', ')}`);
  } finally {
    await stack.stop();
  }
}

runMain(main);
