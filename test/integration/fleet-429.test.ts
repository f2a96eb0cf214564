// The agent's per-IP connection cap (limits.http_max_conns_per_client) on a real Consul dev
// agent: warm environments hold one long-lived connection each and keep greeting from their
// cache while every new connection gets a 429; environments over the cap back off with jitter
// instead of storming, and come up once connections are free again. Real Greeter backend.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connectionsByClientIp } from '../../bench/fleet/tcp-connections';
import { gatewayTokens } from '../../scripts/stack/tokens';
import { createConsulApi, type ConsulApi } from '../../lib/consul/consul-api';
import { putConfig } from '../../scripts/stack/seed-config';
import { GreetError } from '../../lib/greeter/errors';
import { greet } from '../../lib/greeter/greet';
import { createGatewayRuntime, type GatewayRuntime } from '../../lib/greeter/gateway-runtime';
import { errorSummary, silentLog, type Log } from '../../lib/log/logger';
import { startConsulAgent, type ConsulAgent } from '../../scripts/stack/consul-agent';
import { startGreeter, type GreeterBackend } from '../../scripts/stack/greeters';
import { stopProcess } from '../../scripts/stack/processes';
import { eventually, PASSING_WAIT_MS, passingIds } from './harness';

const CAP = 12;
const PREFIX = 'config/greeter-gateway/fleet429/';
const WARM = 3;

let agent: ConsulAgent | undefined;
let admin: ConsulApi | undefined;
let greeter: GreeterBackend | undefined;
const runtimes: GatewayRuntime[] = [];
const fillers: Socket[] = [];

const open = () => connectionsByClientIp(agent!.httpPort).get('127.0.0.1') ?? 0;

/**
 * The connections that stay: the fewest seen over a second of samples. Config reads and lease
 * writes open and close a connection every second or so, and on a busy machine one may be counted
 * at any single instant; the long-lived ones are there in every sample.
 */
async function steadyOpen(): Promise<number> {
  let least = Infinity;
  for (let i = 0; i < 10; i++) {
    least = Math.min(least, open());
    await new Promise((r) => setTimeout(r, 100));
  }
  return least;
}
const sayHello = (rt: GatewayRuntime) => greet(rt, 'Ada', () => 10_000);

/** A log that keeps only what the test asks about: whether a warning carried a 429. */
function throttleLog(): Log & { throttled: number } {
  const log = {
    throttled: 0,
    debug: () => undefined,
    info: () => undefined,
    error: () => undefined,
    warn: (_msg: string, attrs?: Record<string, unknown>) => {
      const err = attrs?.error as ReturnType<typeof errorSummary> | undefined;
      if (/too many requests/i.test(err?.message ?? '')) log.throttled++;
    },
  };
  return log;
}

/** One probe request on a new connection: its HTTP status (429 once the cap is full). */
async function probe(): Promise<number> {
  const res = await fetch(`http://${agent!.address}/v1/status/leader`, {
    headers: { connection: 'close' },
    signal: AbortSignal.timeout(2_000),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Holds idle connections until a new one gets a 429: other tenants of the same source IP. */
async function fillTheCap(): Promise<void> {
  for (let i = 0; i <= CAP; i++) {
    if (open() >= CAP && (await probe()) === 429) return;
    const s = connect(agent!.httpPort, '127.0.0.1');
    s.on('error', () => undefined);
    await new Promise<void>((resolve) => s.once('connect', () => resolve()));
    fillers.push(s);
    const before = fillers.length;
    // The agent counts the connection once it has accepted it.
    await eventually(() => open() >= before, 10_000, 'the filler connection counted');
  }
  assert.fail(`no 429 after ${CAP} extra connections`);
}

before(async () => {
  agent = await startConsulAgent({ limits: { httpMaxConnsPerClient: CAP } });
  admin = createConsulApi({ address: agent.address, token: agent.managementToken });
  const { gatewayToken, backendToken } = await gatewayTokens(admin, PREFIX);
  // Config refreshes and lease renewals fall due every second, so they meet the full cap.
  await putConfig(admin, PREFIX, {
    configMaxAgeSeconds: '1',
    leaseTtlSeconds: '3',
    coldStartWaitMs: '3000',
    discoveryMinIntervalMs: '0',
  });
  greeter = await startGreeter({ id: 'g-1', consulAddress: agent.address, token: backendToken });
  await eventually(async () => (await passingIds(admin!, 'greeter')).includes('g-1'), PASSING_WAIT_MS, 'g-1 passing');
  // The gateway's admin client keeps nothing open in between: the cap is the environments' alone.
  admin.destroy();
  process.env.CONSUL_HTTP_ADDR = agent.address;
  process.env.CONSUL_HTTP_TOKEN = gatewayToken;
  process.env.CONFIG_PREFIX = PREFIX;
});

after(async () => {
  for (const s of fillers) s.destroy();
  for (const rt of runtimes) rt.close();
  if (greeter) await stopProcess(greeter.process, 'SIGKILL');
  admin?.destroy();
  await agent?.stop();
});

describe('the agent connection cap (429)', () => {
  it('warm environments hold one connection each and keep greeting from their cache through 429s', async () => {
    const baseline = await steadyOpen();
    const logs: ReturnType<typeof throttleLog>[] = [];
    for (let i = 0; i < WARM; i++) {
      logs.push(throttleLog());
      const rt = createGatewayRuntime(logs[i]!);
      runtimes.push(rt);
      assert.match((await sayHello(rt)).message, /Hello, Ada!/);
    }
    // Each has its blocking watch open; config reads and lease writes closed their connections.
    await eventually(() => runtimes.every((rt) => (rt.watches.all()[0]?.snapshot().polls ?? 0) >= 2), 5_000, 'every watch blocking');
    // Exactly one each: the blocking watch's; config reads and lease writes closed theirs.
    // Waited on as a condition (bounded), not read once in a short window: a busy machine is slow to settle.
    await eventually(
      async () => (await steadyOpen()) - baseline === WARM,
      30_000,
      `${WARM} long-lived connections for ${WARM} environments`,
    );

    await fillTheCap();
    const warm = runtimes.slice(0, WARM);
    // Keep invoking until each environment's lease renewal or config refresh has met a 429 (both fall due every second).
    await eventually(
      async () => {
        for (const rt of warm)
          assert.match((await sayHello(rt)).message, /Hello, Ada!/, 'a 429 never fails a greet while the cache is warm');
        // Another tenant takes any connection that frees up, as other environments would.
        if (open() < CAP) await fillTheCap();
        return logs.every((l) => l.throttled > 0);
      },
      15_000,
      'a throttled renewal or refresh in every warm environment',
    );
    for (const rt of warm) {
      assert.equal(rt.lease.snapshot().reRegistrations, 0, 'a 429 is not taken for a forgotten lease');
      assert.equal(rt.config.current()?.index !== undefined, true, 'the loaded config is kept');
    }
  });

  it('environments over the cap back off with jitter, then come up once connections are free', async () => {
    // The warm environments go (their renewals would open and close connections, freeing a slot
    // now and then); idle tenants take their place, so the cap stays full and nothing else moves.
    for (const rt of runtimes.splice(0)) rt.close();
    await eventually(async () => (await steadyOpen()) <= fillers.length, 30_000, 'the closed environments gone from the agent');
    await fillTheCap();
    await eventually(async () => (await steadyOpen()) <= fillers.length, 30_000, 'only the idle tenants connected');
    assert.equal(await probe(), 429);
    const cold = [createGatewayRuntime(silentLog), createGatewayRuntime(silentLog)];
    runtimes.push(...cold);
    for (const rt of cold) {
      // No cache yet and no connection to be had: the answer is a clear "no instance", not a hang.
      await assert.rejects(sayHello(rt), (err: unknown) => err instanceof GreetError && err.kind === 'no_healthy_instance');
    }
    const watch = (rt: GatewayRuntime) => rt.watches.all()[0]!;
    const last = cold[cold.length - 1]!;
    await eventually(() => watch(last).snapshot().throttled >= 1, 5_000, 'a first throttled poll');
    // Timed between two throttled polls seen as they happen (not from whenever the test first looked:
    // discovery starts beside the config read, so several may be behind us already).
    const seen = watch(last).snapshot().throttled;
    await eventually(() => watch(last).snapshot().throttled >= seen + 1, 30_000, 'the next throttled poll');
    const next = Date.now();
    await eventually(() => watch(last).snapshot().throttled >= seen + 3, 40_000, 'two more throttled polls');
    // Two backoffs after a 429 are at least 0.5 + 1 s (THROTTLED_BASE_MS, doubling, jittered in its upper half): no retry storm.
    assert.ok(Date.now() - next >= 1_300, `two throttled polls came ${Date.now() - next} ms after the one before`);
    await eventually(() => cold.every((rt) => watch(rt).snapshot().throttled >= 3), 40_000, 'three throttled polls per environment');
    for (const rt of cold)
      assert.ok(watch(rt).snapshot().polls <= watch(rt).snapshot().throttled + 2, JSON.stringify(watch(rt).snapshot()));

    for (const s of fillers.splice(0)) s.destroy();
    await eventually(
      () => cold.every((rt) => (watch(rt).current()?.length ?? 0) > 0),
      20_000,
      'the over-cap environments discovering after the cap freed up',
    );
    for (const rt of cold) assert.match((await sayHello(rt)).message, /Hello, Ada!/);
  });
});
