/**
 * A real Consul cluster on loopback for failover tests: three servers
 * (`bootstrap_expect = 3`, `raft_multiplier = 1`, so elections take about a
 * second) and client agents, each with its own ports and data dir, ACLs on
 * with default deny, one least-privilege agent token per node, and no call
 * out to the internet. A chaos handle kills, freezes or restarts any node;
 * a restarted node keeps its data dir, as a real one would.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConsulApi } from '../../lib/consul/consul-api';
import { ensureConsulBinary } from '../consul-binary';
import { dnsConfigStanza, limitsStanza, setDnsDefaultToken, type ConsulAgentLimits } from './consul-agent';
import { ownedTempDir, removeOwned } from './lifecycle';
import { agentToken } from './tokens';
import { freePort, startProcess, stopProcess, type ManagedProcess } from './processes';
import { pollUntil, pollWhileRunning } from '../support/poll-until';

/** One agent of the cluster. */
export interface ClusterNode {
  name: string;
  role: 'server' | 'client';
  /** `127.0.0.1:<http port>`. */
  address: string;
  /** `127.0.0.1:<server port>` (servers only): what /v1/status/leader names. */
  raftAddress?: string;
  /** `127.0.0.1:<serf_wan port>` (servers only): where another datacenter joins over the WAN. */
  wanAddress?: string;
  /** `127.0.0.1:<dns port>` (UDP and TCP) when the cluster was started with `dns: true`. */
  dnsAddress?: string;
  process: ManagedProcess;
  frozen: boolean;
}

/** A running cluster and its chaos handle. */
export interface ConsulCluster {
  nodes: ClusterNode[];
  servers: ClusterNode[];
  clients: ClusterNode[];
  managementToken: string;
  /** The server that leads now, asked of any answering node; undefined during an election. */
  leader(): Promise<ClusterNode | undefined>;
  /** Waits until some server leads, and returns it. */
  waitForLeader(timeoutMs?: number): Promise<ClusterNode>;
  /** SIGKILLs a node (its data dir stays, for `restart`). */
  kill(node: ClusterNode): Promise<void>;
  /** SIGSTOPs a node: it holds its sockets open and answers nothing (a gray failure). */
  freeze(node: ClusterNode): void;
  /** SIGCONTs a frozen node. */
  thaw(node: ClusterNode): void;
  /** Starts a killed node again with its data dir and ports; resolves once it answers. */
  restart(node: ClusterNode): Promise<void>;
  /** Stops every node and removes every data dir. */
  stop(): Promise<void>;
}

/** How many agents of each kind. */
export interface ClusterOptions {
  clients?: number;
  echo?: (line: string) => void;
  readyTimeoutMs?: number;
  /** The `limits` stanza of the client agents (the servers keep Consul's defaults); a list gives one per client, in order. */
  clientLimits?: ConsulAgentLimits | ConsulAgentLimits[];
  /** Keep Prometheus-format counters (`/v1/agent/metrics?format=prometheus`) on every node, for benchmarks. */
  telemetry?: boolean;
  /** Serve Consul DNS on every node (free ports), with the dns_config and default token of consul-agent.ts's `dns` option. */
  dns?: boolean;
}

interface NodeSpec {
  name: string;
  role: 'server' | 'client';
  dir: string;
  ports: { http: number; serfLan: number; serfWan: number; server: number; dns?: number };
}

/** Starts 3 servers and `clients` client agents (default 1); resolves once a leader is elected and every agent has its token. */
export async function startConsulCluster(opts: ClusterOptions = {}): Promise<ConsulCluster> {
  const bin = ensureConsulBinary((l) => console.error(l));
  // Owned (lifecycle.ts): agent.hcl holds the management token and is read again when a node restarts,
  // so the dir stays while the cluster runs and goes on any exit of ours, a SIGKILL included.
  const root = ownedTempDir('cluster');
  const managementToken = randomUUID();
  const specs: NodeSpec[] = [];
  for (const [role, count] of [
    ['server', 3],
    ['client', opts.clients ?? 1],
  ] as const) {
    for (let i = 1; i <= count; i++) {
      const name = `${role}-${i}`;
      const ports = {
        http: await freePort(),
        serfLan: await freePort(),
        serfWan: await freePort(),
        server: await freePort(),
        ...(opts.dns ? { dns: await freePort() } : {}),
      };
      specs.push({ name, role, dir: join(root, name), ports });
    }
  }
  const join_ = specs.filter((s) => s.role === 'server').map((s) => `"127.0.0.1:${s.ports.serfLan}"`);
  for (const s of specs) {
    mkdirSync(join(s.dir, 'data'), { recursive: true });
    writeFileSync(join(s.dir, 'agent.hcl'), agentConfig(s, join_, managementToken) + extraStanzas(s, opts), { mode: 0o600 });
  }
  const nodes: ClusterNode[] = [];
  const launch = (s: NodeSpec): ManagedProcess =>
    startProcess(`consul ${s.name}`, bin, ['agent', '-config-file', join(s.dir, 'agent.hcl')], {
      echo: opts.echo && ((l) => opts.echo?.(`[${s.name}] ${l}`)),
    });
  for (const s of specs) {
    nodes.push({
      name: s.name,
      role: s.role,
      address: `127.0.0.1:${s.ports.http}`,
      raftAddress: s.role === 'server' ? `127.0.0.1:${s.ports.server}` : undefined,
      wanAddress: s.role === 'server' ? `127.0.0.1:${s.ports.serfWan}` : undefined,
      ...(s.ports.dns ? { dnsAddress: `127.0.0.1:${s.ports.dns}` } : {}),
      process: launch(s),
      frozen: false,
    });
  }
  const stop = async () => {
    for (const n of nodes) if (n.frozen) n.process.child.kill('SIGCONT');
    await Promise.all(nodes.map((n) => stopProcess(n.process, 'SIGINT', 5_000)));
    // The data dirs hold the management token in agent.hcl: nothing stays on disk.
    removeOwned(root);
  };
  const answering = () => nodes.filter((n) => !n.frozen && n.process.child.exitCode === null && n.process.child.signalCode === null);
  const leader = async (): Promise<ClusterNode | undefined> => {
    for (const n of answering()) {
      try {
        const res = await fetch(`http://${n.address}/v1/status/leader`, { signal: AbortSignal.timeout(500) });
        const raft = ((await res.json()) as string) || '';
        if (raft) return nodes.find((x) => x.raftAddress === raft);
      } catch {
        // ask the next one
      }
    }
    return undefined;
  };
  const waitForLeader = async (timeoutMs = 15_000): Promise<ClusterNode> => {
    return pollUntil(
      async () => {
        const l = await leader();
        return l && answering().includes(l) ? l : undefined;
      },
      'a Consul leader',
      { timeoutMs },
    );
  };
  const cluster: ConsulCluster = {
    nodes,
    servers: nodes.filter((n) => n.role === 'server'),
    clients: nodes.filter((n) => n.role === 'client'),
    managementToken,
    leader,
    waitForLeader,
    async kill(node) {
      if (node.frozen) this.thaw(node);
      await stopProcess(node.process, 'SIGKILL', 0);
    },
    freeze(node) {
      node.process.child.kill('SIGSTOP');
      node.frozen = true;
    },
    thaw(node) {
      node.process.child.kill('SIGCONT');
      node.frozen = false;
    },
    async restart(node) {
      const spec = specs.find((s) => s.name === node.name);
      if (!spec) throw new Error(`unknown node ${node.name}`);
      node.process = launch(spec);
      await waitForAnswer(node, opts.readyTimeoutMs ?? 30_000);
    },
    stop,
  };
  try {
    await waitForLeader(opts.readyTimeoutMs ?? 30_000);
    for (const n of nodes) await waitForAnswer(n, opts.readyTimeoutMs ?? 30_000);
    await setAgentTokens(cluster);
    if (opts.dns)
      await setDnsDefaultToken(
        managementToken,
        nodes.map((n) => n.address),
      );
  } catch (err) {
    await stop();
    throw err;
  }
  return cluster;
}

function agentConfig(s: NodeSpec, retryJoin: string[], managementToken: string): string {
  const server = s.role === 'server' ? 'server = true\nbootstrap_expect = 3\nperformance { raft_multiplier = 1 }' : 'server = false';
  return `
node_name = "${s.name}"
data_dir = "${join(s.dir, 'data')}"
bind_addr = "127.0.0.1"
client_addr = "127.0.0.1"
advertise_addr = "127.0.0.1"
retry_join = [${retryJoin.join(', ')}]
retry_interval = "1s"
log_level = "warn"
# Nothing we start may call out to the internet.
disable_update_check = true
${server}
ports {
  http = ${s.ports.http}
  https = -1
  grpc = -1
  grpc_tls = -1
  dns = ${s.ports.dns ?? -1}
  serf_lan = ${s.ports.serfLan}
  serf_wan = ${s.ports.serfWan}
  server = ${s.ports.server}
}
acl {
  enabled = true
  default_policy = "deny"
  down_policy = "extend-cache"
  enable_token_persistence = true
  tokens {
    initial_management = "${managementToken}"
  }
}
`;
}

/** The additive stanzas a node gets from `opts`: its client limits, and telemetry. */
function extraStanzas(s: NodeSpec, opts: ClusterOptions): string {
  const clientIndex = Number(s.name.replace(/^client-/, '')) - 1;
  const limits = s.role !== 'client' ? undefined : Array.isArray(opts.clientLimits) ? opts.clientLimits[clientIndex] : opts.clientLimits;
  const telemetry = opts.telemetry ? 'telemetry {\n  prometheus_retention_time = "10m"\n  disable_hostname = true\n}\n' : '';
  return limitsStanza(limits) + telemetry + (opts.dns ? dnsConfigStanza() : '');
}

async function waitForAnswer(node: ClusterNode, timeoutMs: number): Promise<void> {
  await pollWhileRunning(
    node.process,
    async () => {
      const res = await fetch(`http://${node.address}/v1/agent/self`, { signal: AbortSignal.timeout(1_000) });
      // 403 means the HTTP API is up and ACLs answer; any 2xx-4xx is an answer.
      if (res.status >= 500) throw new Error(`status ${res.status}`);
      return true;
    },
    `${node.name} at ${node.address} to answer`,
    { timeoutMs, intervalMs: 200 },
  );
}

/** Gives every agent its own token: node write on itself, service read, as Consul's docs describe. */
async function setAgentTokens(cluster: ConsulCluster): Promise<void> {
  const headers = { 'x-consul-token': cluster.managementToken, 'content-type': 'application/json' };
  const leader = await cluster.waitForLeader();
  // The new leader creates the initial management token a moment after it is elected.
  await pollUntil(
    async () => {
      const res = await fetch(`http://${leader.address}/v1/acl/token/self`, { headers, signal: AbortSignal.timeout(1_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      return true;
    },
    'the ACL system to come up',
    { timeoutMs: 15_000 },
  );
  // Through the project's one Consul access path, like every other ACL setup.
  const admin = createConsulApi({ address: leader.address, token: cluster.managementToken, timeoutMs: 5_000 });
  try {
    for (const n of cluster.nodes) {
      const token = await agentToken(admin, n.name);
      const agent = createConsulApi({ address: n.address, token: cluster.managementToken, timeoutMs: 5_000 });
      try {
        await agent.request('consul.agent.token.set', {}, { method: 'PUT', path: '/agent/token/agent', body: { Token: token } });
      } finally {
        agent.destroy();
      }
    }
  } finally {
    admin.destroy();
  }
}
