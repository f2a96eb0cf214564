/**
 * The fleet-scale model: how Consul's load grows with the number of warm execution environments,
 * for each discovery source and lease mode. A real cluster (3 servers, 2 client agents, ACLs on,
 * Consul DNS on, on loopback), a real Greeter, and N environments spread over fleet-worker.ts
 * processes, each environment the project's own gateway runtime. The sources run on real parts
 * (fleet-sources.ts): blocking queries at the agent, Consul DNS behind CoreDNS, the Cloud Map
 * mirror on moto. Per row: requests/s at the agents (HTTP split into discovery, lease and config;
 * DNS questions) and at the servers (RPCs, lease RPCs, health queries, Raft applies), CoreDNS
 * answers and forwards, Cloud Map calls, connections per source IP, the time for a backend change
 * to reach every environment, and memory per environment. Writes bench/out/fleet.json (`--publish`: also bench/results/).
 *
 * `npm run bench:fleet [-- --source consul,dns,cloudmap]`; FLEET_SIZES (consul rows, default
 * "100,1000"), FLEET_DISCOVERY_SIZES (dns and cloudmap rows, default "100,1000,2500": what this 2-core machine holds; 5,000 saturates it),
 * FLEET_LEASE_MODES (consul rows, default "agent,session"), FLEET_WINDOW_MS and FLEET_OVER_CAP
 * (a row over the default 200-connection cap; 0, the default, skips it) override the defaults.
 */
import { gatewayTokens } from '../../scripts/stack/tokens';
import { createConsulApi } from '../../lib/consul/consul-api';
import { kvPut } from '../../lib/consul/kv';
import { CONSUL_DNS_TTL_SECONDS } from '../../scripts/stack/consul-agent';
import { startConsulCluster } from '../../scripts/stack/consul-cluster';
import { startGreeter, type GreeterBackend } from '../../scripts/stack/greeters';
import { passingIds } from '../../scripts/stack/passing';
import { freePort, stopProcess } from '../../scripts/stack/processes';
import { eventually } from '../../scripts/support/poll-until';
import { runMain } from '../measure';
import { runInfo, writeResult, type FleetResult } from '../results';
import { fleetFormulas } from './fleet-formulas';
import { LEASE_CONFIG, PREFIX, runRow, type FleetRow, type LeaseChoice, type RowStack } from './fleet-row';
import { FLEET_SOURCES, startSource, type FleetSource } from './fleet-sources';

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
const argSources = (() => {
  const i = process.argv.indexOf('--source');
  return i >= 0 ? (process.argv[i + 1] ?? '') : (process.env.FLEET_SOURCE ?? 'consul,dns,cloudmap');
})();
const SOURCES = list(argSources).filter((s): s is FleetSource => (FLEET_SOURCES as readonly string[]).includes(s));
const SIZES = list(process.env.FLEET_SIZES ?? '100,1000').map(Number);
const DISCOVERY_SIZES = list(process.env.FLEET_DISCOVERY_SIZES ?? '100,1000,2500').map(Number);
const LEASE_MODES = list(process.env.FLEET_LEASE_MODES ?? 'agent,session').filter(
  (m): m is LeaseChoice => m === 'agent' || m === 'session',
);
const OVER_CAP = Number(process.env.FLEET_OVER_CAP ?? 0);
const WINDOW_MS = Number(process.env.FLEET_WINDOW_MS ?? 15_000);
/** The raised cap of client agent 1: the largest row, plus room for the short connections in flight. */
const RAISED_CAP = Math.round(Math.max(...SIZES, ...DISCOVERY_SIZES) * 1.5) + 100;

/** The rows: consul with each lease mode; dns and cloudmap as discovery-only environments (no lease, config read once). */
function plan(): Array<{ source: FleetSource; environments: number; lease: LeaseChoice }> {
  const rows: Array<{ source: FleetSource; environments: number; lease: LeaseChoice }> = [];
  for (const source of SOURCES) {
    if (source === 'consul') for (const lease of LEASE_MODES) for (const environments of SIZES) rows.push({ source, environments, lease });
    else for (const environments of DISCOVERY_SIZES) rows.push({ source, environments, lease: 'off' });
  }
  return rows;
}

async function main(): Promise<void> {
  if (SOURCES.length === 0) throw new Error(`--source names none of ${FLEET_SOURCES.join(', ')}`);
  const started = Date.now();
  const cluster = await startConsulCluster({
    clients: 2,
    clientLimits: [{ httpMaxConnsPerClient: RAISED_CAP }, {}],
    telemetry: true,
    dns: true,
  });
  const admin = createConsulApi({ address: cluster.clients[0]!.address, token: cluster.managementToken, timeoutMs: 5_000 });
  let greeter: GreeterBackend | undefined;
  try {
    const { gatewayToken, backendToken } = await gatewayTokens(admin, PREFIX, 'both');
    for (const [mode, values] of Object.entries(LEASE_CONFIG))
      for (const [k, v] of Object.entries(values)) await kvPut(admin, `${PREFIX}${mode}/${k}`, String(v));
    greeter = await startGreeter({ id: 'g-1', consulAddress: cluster.clients[0]!.address, token: backendToken });
    await eventually(async () => (await passingIds(admin, 'greeter')).includes('g-1'), 15_000, 'g-1 passing in Consul');
    const [agent, backendNode] = [cluster.clients[0]!, cluster.clients[1]!];
    const backendAgent = createConsulApi({ address: backendNode.address, token: backendToken, timeoutMs: 15_000 });
    const parts = {
      cluster,
      backendAgent,
      greeter: { id: 'g-1', port: greeter.port },
      changePort: await freePort(),
      dnsTtlSeconds: CONSUL_DNS_TTL_SECONDS,
    };
    const rows: FleetRow[] = [];
    const skipped: Array<{ source: FleetSource; reason: string }> = [];
    try {
      for (const source of SOURCES) {
        let stack: RowStack['source'];
        try {
          stack = await startSource(source, parts);
        } catch (err) {
          skipped.push({ source, reason: err instanceof Error ? err.message : String(err) });
          console.error(`[fleet] ${source}: not run: ${skipped.at(-1)?.reason}`);
          continue;
        }
        try {
          for (const r of plan().filter((p) => p.source === source)) {
            let row: Awaited<ReturnType<typeof runRow>>;
            try {
              row = await runRow({ cluster, agent, gatewayToken, source: stack, parts, windowMs: WINDOW_MS }, r.environments, r.lease);
            } catch (err) {
              // A row that failed (a saturated machine) is reported, and the next source still runs.
              row = `N=${r.environments} failed: ${err instanceof Error ? err.message : String(err)}`;
            }
            if (typeof row === 'string') {
              skipped.push({ source, reason: row });
              console.error(`[fleet] ${source}: not run: ${row}`);
              break;
            }
            // Each row carries its own run (machine and time): a published table may keep rows of another run.
            rows.push({ ...row, run: runInfo() });
            // Written after every row, so a failure later keeps what was measured.
            writeResult('fleet', { rows, formula: fleetFormulas(rows).formula, partial: true, skipped });
          }
        } finally {
          await stack.stop();
        }
      }
      const overCap =
        OVER_CAP > 0 && SOURCES.includes('consul')
          ? await runRow(
              { cluster, agent: backendNode, gatewayToken, source: await startSource('consul', parts), parts, windowMs: WINDOW_MS },
              OVER_CAP,
              'agent',
            )
          : undefined;
      const { formula, formulas, fits } = fleetFormulas(rows);
      const result: FleetResult = {
        rows,
        formula,
        formulas,
        fits,
        skipped,
        settings: {
          leaseConfig: LEASE_CONFIG,
          consulDnsTtlSeconds: CONSUL_DNS_TTL_SECONDS,
          windowMs: WINDOW_MS,
          raisedCap: RAISED_CAP,
          topology:
            '3 servers + 2 client agents on loopback (ACLs on, Consul DNS on with only_passing, allow_stale, use_cache); environments talk to client agent 1; CoreDNS forwards consul. to both agents; moto for Cloud Map',
          benchSeconds: Math.round((Date.now() - started) / 1000),
        },
        overCap: overCap && typeof overCap !== 'string' ? { ...overCap, cap: 200 } : undefined,
      };
      console.log(`wrote ${writeResult('fleet', result)}`);
      console.log(formula);
    } finally {
      backendAgent.destroy();
    }
  } finally {
    admin.destroy();
    if (greeter) await stopProcess(greeter.process, 'SIGKILL');
    await cluster.stop();
  }
}

runMain(main);
