/**
 * `npm run chaos`: each failure scenario under steady traffic, against the packaged greet bundle
 * running in its own process (scripts/chaos/traffic.mjs), on real parts: a 3-server Consul
 * cluster with two client agents, a second datacenter joined over the WAN, Greeter backends, and
 * moto holding the Cloud Map mirror the packaged health-sync job writes (DISCOVERY_FALLBACK=cloudmap).
 * "Consul entirely down" (cold start, warm, and the return) runs last: it kills every Consul node.
 * Prints one row per scenario: requests sent and failed during the fault window, p50/p99/max
 * latency in that window, and the time from the fault to the last failed or slow request; then the
 * same as a Markdown table. CHAOS_RESULTS=<file> also writes the rows and that table as JSON.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatewayTokens } from '../stack/tokens';
import { createConsulApi } from '../../lib/consul/consul-api';
import { startConsulAgent, type ConsulAgent } from '../stack/consul-agent';
import { startConsulCluster, type ConsulCluster } from '../stack/consul-cluster';
import { startGreeter, type GreeterBackend } from '../stack/greeters';
import { stopAll, stopProcess } from '../stack/processes';
import { passingIds } from '../stack/passing';
import { seedDefaultConfig } from '../stack/seed-config';
import { bundlePath, packageFunctions } from '../rie/package-functions';
import { extractZip } from '../rie/zip';
import { latencyFigures, p99, traffic } from './chaos-kit';
import { percentile } from '../support/percentiles';
import { eventually } from '../support/poll-until';
import { chaosResults, fixedWidthTable, markdownTable, type ChaosRow } from './chaos-table';
import { describeRuns, sourceRuns } from './source-timeline';
import { consulDownCold, consulDownWarm, startCloudMapMirror, type CloudMapMirror } from './consul-down';

const PREFIX = 'config/greeter-gateway/chaos/';
const WINDOW_MS = Number(process.env.CHAOS_WINDOW_MS ?? 6_000);

async function main(): Promise<void> {
  // The moto client in this process: the SDK's Node 20 notice is noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const work = mkdtempSync(join(tmpdir(), 'consul-grpc-lambda-chaos-'));
  let cluster: ConsulCluster | undefined;
  let dc2: ConsulAgent | undefined;
  let mirror: CloudMapMirror | undefined;
  try {
    console.log('• packaging the greet function…');
    const pkg = await packageFunctions({ env: { LOG_LEVEL: 'ERROR' } });
    const greetZip = pkg.functions.get('greet')?.zip;
    const healthSync = pkg.functions.get('healthSync');
    if (!greetZip || !healthSync) throw new Error('no greet or healthSync bundle');
    const bundle = join(work, 'greet');
    extractZip(greetZip, bundle);
    const healthSyncDir = join(work, 'health-sync');
    extractZip(healthSync.zip, healthSyncDir);
    const healthSyncBundle = bundlePath(healthSync, healthSyncDir);
    pkg.remove();

    console.log('• starting a 3-server Consul cluster, 2 client agents and a second datacenter…');
    cluster = await startConsulCluster({ clients: 2 });
    const [client1, client2] = [cluster.clients[0]!, cluster.clients[1]!];
    const admin = createConsulApi({ address: client2.address, token: cluster.managementToken });
    const wan = cluster.servers[0]?.wanAddress ?? '';
    dc2 = await startConsulAgent({
      datacenter: 'dc2',
      primary: { datacenter: 'dc1', wanAddress: wan, managementToken: cluster.managementToken },
    });
    const dc2Admin = createConsulApi({ address: dc2.address, token: cluster.managementToken });
    const { gatewayToken, backendToken } = await gatewayTokens(admin, PREFIX);
    await seedDefaultConfig(admin, PREFIX, undefined, {
      discoveryMinIntervalMs: '0',
      greeterFailoverDatacenters: 'dc2',
      ejectionMinRequests: '5',
    });
    await eventually(
      async () => (await fetch(`http://${dc2?.address}/v1/acl/token/self`, { headers: { 'x-consul-token': backendToken } })).ok,
      20_000,
      'dc2 to know the tokens',
    );

    const local: GreeterBackend[] = [];
    const startLocal = async (id: string, port?: number) => {
      const g = await startGreeter({ id, port, consulAddress: client2.address, token: backendToken });
      const at = local.findIndex((x) => x.id === id);
      if (at >= 0) local[at] = g;
      else local.push(g);
    };
    for (const id of ['local-1', 'local-2', 'local-3']) await startLocal(id);
    await startGreeter({ id: 'remote-1', consulAddress: dc2.address, token: backendToken });
    await eventually(
      async () => (await passingIds(admin, 'greeter')).length === 3 && (await passingIds(dc2Admin, 'greeter')).length === 1,
      20_000,
      'backends passing',
    );

    // The Cloud Map mirror (moto), written by the packaged health-sync job: every scenario runs with
    // DISCOVERY_FALLBACK=cloudmap, as a deployment with the fallback would; only "Consul entirely down" needs it.
    console.log('• starting moto and mirroring the greeter service into Cloud Map with the health-sync job…');
    mirror = await startCloudMapMirror({ admin, healthSyncBundle, greeterService: 'greeter' });
    const mirrored = await mirror.sync(client1.address);
    if (mirrored.length !== 3) throw new Error(`the mirror holds ${mirrored.join(', ') || 'nothing'}, not the 3 local backends`);

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      CONSUL_HTTP_ADDR: `${client1.address},${client2.address}`,
      CONSUL_HTTP_TOKEN: gatewayToken,
      CONFIG_PREFIX: PREFIX,
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...mirror.gatewayEnv,
    };
    const rows: ChaosRow[] = [];
    // CHAOS_ONLY=<text> runs only the scenarios whose name contains it.
    const only = process.env.CHAOS_ONLY;
    const run = async (scenario: string, fault: () => Promise<string | void>, restore: () => Promise<void>) => {
      if (only && !scenario.includes(only)) return;
      const t = traffic(bundle, env, 'loop');
      try {
        await eventually(() => t.lines().length >= 100, 30_000, `${scenario}: warm traffic`);
        const before = t.lines().map((l) => l.ms);
        const slow = Math.max(50, 5 * p99(before));
        const faultAt = Date.now();
        const note = (await fault()) ?? '';
        await eventually(() => Date.now() - faultAt >= WINDOW_MS, WINDOW_MS + 60_000, `${scenario}: the fault window`);
        await stopProcess(t.proc, 'SIGTERM', 3_000);
        const during = t.lines().filter((l) => l.t >= faultAt);
        if (t.proc.child.exitCode !== null && t.proc.child.exitCode !== 0)
          throw new Error(
            `${scenario}: the traffic process died:\n${t.proc.output
              .filter((l) => !l.startsWith('{"t"'))
              .slice(-20)
              .join('\n')}`,
          );
        const bad = during.filter((l) => l.status !== 200 || l.ms > slow);
        const ms = during.map((l) => l.ms);
        const codes = new Map<string, number>();
        for (const l of during)
          if (l.status !== 200) codes.set(l.code ?? String(l.status), (codes.get(l.code ?? String(l.status)) ?? 0) + 1);
        const failures = [...codes].map(([c, n]) => `${n} ${c}`).join(', ');
        // With the fallback configured, say so when a scenario was not served by Consul throughout.
        const sources = during.some((l) => l.src !== 'consul') ? `served by ${describeRuns(sourceRuns(during, faultAt))}` : '';
        rows.push({
          scenario,
          sent: during.length,
          failed: during.filter((l) => l.status !== 200).length,
          remote: during.filter((l) => l.status === 200 && l.dc).length,
          ...latencyFigures(ms),
          recoverMs: bad.length ? Math.max(...bad.map((l) => l.t)) - faultAt : 0,
          note: [note, sources, failures].filter(Boolean).join('; '),
        });
      } finally {
        await stopProcess(t.proc, 'SIGKILL', 0);
        await restore();
      }
    };
    const restartNode = (node: ConsulCluster['nodes'][number]) => async () => {
      await cluster?.restart(node);
      await cluster?.waitForLeader();
    };

    console.log('• running the scenarios (each under steady traffic)…');
    const leader = await cluster.waitForLeader();
    await run('leader SIGKILL', async () => void (await cluster?.kill(leader)), restartNode(leader));
    const currentLeader = await cluster.waitForLeader();
    const aFollower = cluster.servers.find((s) => s !== currentLeader)!;
    await run('follower SIGKILL', async () => void (await cluster?.kill(aFollower)), restartNode(aFollower));
    await run('client agent SIGKILL (the first address)', async () => void (await cluster?.kill(client1)), restartNode(client1));
    const victim = () => local.find((g) => g.id === 'local-2')!;
    await run(
      'backend SIGKILL',
      async () => void (await stopProcess(victim().process, 'SIGKILL', 0)),
      async () => {
        await startLocal('local-2', victim().port);
        await eventually(async () => (await passingIds(admin, 'greeter')).length === 3, 20_000, 'local-2 back');
      },
    );
    await run(
      'backend SIGSTOP (hangs, Consul check still passing for a while)',
      async () => void victim().process.child.kill('SIGSTOP'),
      async () => {
        victim().process.child.kill('SIGCONT');
        await eventually(async () => (await passingIds(admin, 'greeter')).length === 3, 30_000, 'local-2 passing again');
      },
    );
    await run(
      'all local backends SIGKILL (dc2 takes over)',
      async () => {
        await Promise.all(local.map((g) => stopProcess(g.process, 'SIGKILL', 0)));
        return 'dc2 serves from the first refused call on, within the call';
      },
      async () => {
        for (const g of [...local]) await startLocal(g.id, g.port);
        await eventually(async () => (await passingIds(admin, 'greeter')).length === 3, 30_000, 'local backends back');
      },
    );

    // Cold starts: a fresh process per invocation, first normally, then right after a leader kill.
    const coldOnce = async () => {
      const t = traffic(bundle, env, 'once');
      await t.proc.exited;
      const line = t.lines()[0];
      if (!line) throw new Error(`cold start printed nothing:\n${t.proc.output.slice(-10).join('\n')}`);
      return line;
    };
    const normal = [await coldOnce(), await coldOnce(), await coldOnce()];
    const electing = await cluster.waitForLeader();
    await cluster.kill(electing);
    const duringElection = await coldOnce();
    await cluster.restart(electing);
    await cluster.waitForLeader();
    const normalMs = percentile(
      normal.map((l) => l.ms),
      50,
    );
    rows.push({
      scenario: 'cold start during an election',
      sent: 1,
      failed: duringElection.status === 200 ? 0 : 1,
      remote: duringElection.dc ? 1 : 0,
      p50: duringElection.ms,
      p99: duringElection.ms,
      max: duringElection.ms,
      recoverMs: 0,
      note: `normal cold invocation ${normalMs?.toFixed(0) ?? '-'} ms; config from ${duringElection.configSource ?? '?'}${duringElection.stale ? ' (stale read)' : ''}`,
    });

    // Last, since they take the whole of Consul down (the second datacenter too, which stays down):
    // the mirror is written afresh first, as the scheduled job would have.
    const wantDown = (name: string) => !only || name.includes(only);
    if (wantDown('Consul entirely down') || wantDown('Consul back')) {
      const fresh = await mirror.sync(client1.address);
      if (fresh.length !== 3) throw new Error(`the mirror holds ${fresh.join(', ') || 'nothing'}, not the 3 local backends`);
      const down = {
        cluster,
        otherDatacenters: [dc2],
        bundle,
        env,
        windowMs: WINDOW_MS,
        backendsPassing: () =>
          eventually(async () => (await passingIds(admin, 'greeter')).length === 3, 60_000, 'local backends passing after the restart'),
      };
      if (wantDown('Consul entirely down (cold)')) rows.push(await consulDownCold(down));
      if (wantDown('Consul entirely down (warm)') || wantDown('Consul back')) rows.push(...(await consulDownWarm(down)));
    }

    admin.destroy();
    dc2Admin.destroy();
    console.log(`\nnode ${process.version}, packaged greet bundle, fault window ${WINDOW_MS} ms\n`);
    console.log(fixedWidthTable(rows));
    console.log(`\n${markdownTable(rows)}`);
    const out = process.env.CHAOS_RESULTS;
    if (out) {
      writeFileSync(
        out,
        `${JSON.stringify(chaosResults(rows, { date: new Date(), node: process.version, windowMs: WINDOW_MS }), null, 2)}\n`,
      );
      console.log(`\nresults written to ${out}`);
    }
  } finally {
    await stopAll(3_000);
    await cluster?.stop();
    await dc2?.stop();
    await mirror?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
