/**
 * The stack `npm run chaos` breaks, on real parts: the packaged greet and healthSync bundles, a
 * 3-server Consul cluster with two client agents, a second datacenter joined over the WAN, three
 * local Greeter backends and one in dc2, and the Cloud Map mirror (moto) the packaged health-sync
 * job writes, so every scenario runs with DISCOVERY_FALLBACK=cloudmap as a deployment with the
 * fallback would.
 */
import { join } from 'node:path';
import { createConsulApi, type ConsulApi } from '../../lib/consul/consul-api';
import { bundlePath, packageFunctions } from '../rie/package-functions';
import { extractZip } from '../rie/zip';
import { startConsulAgent, type ConsulAgent } from '../stack/consul-agent';
import { startConsulCluster, type ConsulCluster } from '../stack/consul-cluster';
import { startGreeter, type GreeterBackend } from '../stack/greeters';
import { passingIds } from '../stack/passing';
import { seedDefaultConfig } from '../stack/seed-config';
import { gatewayTokens } from '../stack/tokens';
import { eventually } from '../support/poll-until';
import { startCloudMapMirror, type CloudMapMirror } from './cloudmap-mirror';

const PREFIX = 'config/greeter-gateway/chaos/';
const LOCAL_IDS = ['local-1', 'local-2', 'local-3'];

/** The unpacked bundles the chaos run starts processes from. */
export interface ChaosBundles {
  greet: string;
  healthSync: string;
}

/** Packages greet and healthSync as a deployment would and unpacks them under `work`. */
export async function unpackBundles(work: string): Promise<ChaosBundles> {
  const pkg = await packageFunctions({ env: { LOG_LEVEL: 'ERROR' } });
  try {
    const greetZip = pkg.functions.get('greet')?.zip;
    const healthSync = pkg.functions.get('healthSync');
    if (!greetZip || !healthSync) throw new Error('no greet or healthSync bundle');
    const greet = join(work, 'greet');
    extractZip(greetZip, greet);
    const healthSyncDir = join(work, 'health-sync');
    extractZip(healthSync.zip, healthSyncDir);
    return { greet, healthSync: bundlePath(healthSync, healthSyncDir) };
  } finally {
    pkg.remove();
  }
}

/** The running stack and what the scenarios do to it. */
export interface ChaosStack {
  cluster: ConsulCluster;
  dc2: ConsulAgent;
  /** Management-token client of the second client agent (the backends' agent). */
  admin: ConsulApi;
  mirror: CloudMapMirror;
  /** The first client agent: the first address the gateway tries. */
  firstAgent: ConsulCluster['nodes'][number];
  /** The local backends, as (re)started. */
  local: GreeterBackend[];
  /** The environment of a greet process: both client agents, the gateway's token, the Cloud Map fallback. */
  env: NodeJS.ProcessEnv;
  /** (Re)starts local backend `id` (on `port`, to come back where it was). */
  startLocal(id: string, port?: number): Promise<void>;
  /** Resolves once all three local backends pass again; rejects naming `what` after `timeoutMs`. */
  localPassing(timeoutMs: number, what: string): Promise<void>;
  /** Runs the health-sync job once more and checks the mirror holds the three local backends. */
  refreshMirror(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the stack; whatever started is stopped again if a later step fails. */
export async function startChaosStack(healthSyncBundle: string): Promise<ChaosStack> {
  const cluster = await startConsulCluster({ clients: 2 });
  const parts: { dc2?: ConsulAgent; admin?: ConsulApi; dc2Admin?: ConsulApi; mirror?: CloudMapMirror } = {};
  const stop = async () => {
    parts.admin?.destroy();
    parts.dc2Admin?.destroy();
    await cluster.stop();
    await parts.dc2?.stop();
    await parts.mirror?.stop();
  };
  try {
    const [client1, client2] = [cluster.clients[0]!, cluster.clients[1]!];
    const admin = (parts.admin = createConsulApi({ address: client2.address, token: cluster.managementToken }));
    const wan = cluster.servers[0]?.wanAddress ?? '';
    const dc2 = (parts.dc2 = await startConsulAgent({
      datacenter: 'dc2',
      primary: { datacenter: 'dc1', wanAddress: wan, managementToken: cluster.managementToken },
    }));
    const dc2Admin = (parts.dc2Admin = createConsulApi({ address: dc2.address, token: cluster.managementToken }));
    const { gatewayToken, backendToken } = await gatewayTokens(admin, PREFIX);
    await seedDefaultConfig(admin, PREFIX, undefined, {
      discoveryMinIntervalMs: '0',
      greeterFailoverDatacenters: 'dc2',
      ejectionMinRequests: '5',
    });
    await eventually(
      async () => (await fetch(`http://${dc2.address}/v1/acl/token/self`, { headers: { 'x-consul-token': backendToken } })).ok,
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
    for (const id of LOCAL_IDS) await startLocal(id);
    await startGreeter({ id: 'remote-1', consulAddress: dc2.address, token: backendToken });
    const localPassing = (timeoutMs: number, what: string) =>
      eventually(async () => (await passingIds(admin, 'greeter')).length === LOCAL_IDS.length, timeoutMs, what);
    await eventually(
      async () => (await passingIds(admin, 'greeter')).length === 3 && (await passingIds(dc2Admin, 'greeter')).length === 1,
      20_000,
      'backends passing',
    );

    console.log('• starting moto and mirroring the greeter service into Cloud Map with the health-sync job…');
    const mirror = (parts.mirror = await startCloudMapMirror({ admin, healthSyncBundle, greeterService: 'greeter' }));
    const refreshMirror = async () => {
      const mirrored = await mirror.sync(client1.address);
      if (mirrored.length !== LOCAL_IDS.length)
        throw new Error(`the mirror holds ${mirrored.join(', ') || 'nothing'}, not the ${LOCAL_IDS.length} local backends`);
    };
    await refreshMirror();

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      CONSUL_HTTP_ADDR: `${client1.address},${client2.address}`,
      CONSUL_HTTP_TOKEN: gatewayToken,
      CONFIG_PREFIX: PREFIX,
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...mirror.gatewayEnv,
    };
    return { cluster, dc2, admin, mirror, firstAgent: client1, local, env, startLocal, localPassing, refreshMirror, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
