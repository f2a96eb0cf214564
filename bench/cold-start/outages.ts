/**
 * Cold starts of the packaged greet on a real 3-server cluster: healthy, meeting a leader election
 * (the leader is SIGKILLed just before the invocation), and with Consul unreachable (a closed port,
 * and a SIGSTOPped agent that accepts connections and answers nothing).
 */
import { createConsulApi, type ConsulApi } from '../../lib/consul/consul-api';
import type { PackagedFunction } from '../../scripts/rie/package-functions';
import { startConsulCluster, type ConsulCluster } from '../../scripts/stack/consul-cluster';
import { startGreeter, type GreeterBackend } from '../../scripts/stack/greeters';
import { passingIds } from '../../scripts/stack/passing';
import { freePort, stopProcess } from '../../scripts/stack/processes';
import { seedDefaultConfig } from '../../scripts/stack/seed-config';
import { gatewayTokens } from '../../scripts/stack/tokens';
import { eventually } from '../../scripts/support/poll-until';
import { round, stopwatch } from '../measure';
import { PREFIX } from './against-floor';
import { coldRun, expectOk, type ColdRun } from './cold-run';

/** Which outage scenarios to run. */
export interface OutageScenarios {
  election: boolean;
  unreachable: boolean;
}

/** A 3-server cluster with one client agent, tokens, config and two Greeters on the client. */
async function clusterStack() {
  const cluster = await startConsulCluster({ clients: 1 });
  const greeters: GreeterBackend[] = [];
  let admin: ConsulApi | undefined;
  const stop = async () => {
    await Promise.all(greeters.map((g) => stopProcess(g.process, 'SIGKILL')));
    admin?.destroy();
    await cluster.stop();
  };
  try {
    const client = cluster.clients[0];
    if (!client) throw new Error('no client agent');
    admin = createConsulApi({ address: client.address, token: cluster.managementToken });
    const { gatewayToken, backendToken } = await gatewayTokens(admin, PREFIX);
    await seedDefaultConfig(admin, PREFIX);
    for (const id of ['e-1', 'e-2']) greeters.push(await startGreeter({ id, consulAddress: client.address, token: backendToken }));
    const api = admin;
    await eventually(async () => (await passingIds(api, 'greeter')).length === 2, 15_000, 'both Greeters passing');
    return { cluster, client, gatewayToken, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Every server answering and one of them leading: the state each outage run starts from. */
async function healed(cluster: ConsulCluster): Promise<void> {
  for (const n of cluster.nodes) {
    if (n.frozen) cluster.thaw(n);
    if (n.process.child.exitCode !== null || n.process.child.signalCode !== null) await cluster.restart(n);
  }
  await cluster.waitForLeader(30_000);
}

/** `runs` cold starts per scenario on the cluster, each from a healed cluster; healthy ones always. */
export async function outages(greet: PackagedFunction, runs: number, scenarios: OutageScenarios) {
  const c = await clusterStack();
  try {
    const env = { CONSUL_HTTP_ADDR: c.client.address, CONSUL_HTTP_TOKEN: c.gatewayToken, COLD_START_TRACE: '1' };
    const healthy: ColdRun[] = [];
    const election: Array<ColdRun & { electionMs: number }> = [];
    const refused: ColdRun[] = [];
    const frozen: ColdRun[] = [];
    await coldRun(greet, env, 'warm-up-disk');
    for (let i = 0; i < runs; i++) {
      await healed(c.cluster);
      healthy.push(expectOk(await coldRun(greet, env, `h${i}`), 'greet on a healthy cluster'));
      if (scenarios.election) {
        await healed(c.cluster);
        let elected: Promise<number> | undefined;
        // The emulator is up before the kill, so the invocation starts while there is no leader.
        const run = await coldRun(greet, env, `e${i}`, {
          flushTrace: true,
          beforeInvoke: async () => {
            const old = await c.cluster.waitForLeader();
            await c.cluster.kill(old);
            const clock = stopwatch();
            elected = c.cluster.waitForLeader(30_000).then(() => clock.elapsed());
          },
        });
        if (!elected) throw new Error('the leader was not killed before the invocation');
        election.push({ ...run, electionMs: round(await elected, 1) });
      }
      if (scenarios.unreachable) {
        await healed(c.cluster);
        refused.push(await coldRun(greet, { ...env, CONSUL_HTTP_ADDR: `127.0.0.1:${await freePort()}` }, `r${i}`, { flushTrace: true }));
        c.cluster.freeze(c.client);
        try {
          frozen.push(await coldRun(greet, env, `s${i}`, { flushTrace: true }));
        } finally {
          c.cluster.thaw(c.client);
        }
      }
    }
    return { healthy, election, refused, frozen };
  } finally {
    await c.stop();
  }
}
