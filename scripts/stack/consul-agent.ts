/**
 * Starts a real Consul dev agent with ACLs on (default deny) on chosen or free
 * loopback ports, with its own data dir, for the local stack and the tests.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { createConsulApi, type ConsulTls } from '../../lib/consul/consul-api';
import { ensureConsulBinary } from '../consul-binary';
import { ownedTempDir, removeOwned } from './lifecycle';
import { agentToken, dnsToken } from './tokens';
import { freePort, startProcess, stopProcess, type ManagedProcess } from './processes';
import { pollWhileRunning } from '../support/poll-until';

/** A running agent; `managementToken` is for setup only, never for functions. */
export interface ConsulAgent {
  /** `127.0.0.1:<port>`, or `https://127.0.0.1:<port>` with TLS. */
  address: string;
  /** The HTTP API port (the HTTPS port with TLS). */
  httpPort: number;
  /** `127.0.0.1:<serf_wan port>`: where another datacenter joins this one over the WAN. */
  wanAddress: string;
  /** `127.0.0.1:<dns port>` (UDP and TCP) when started with `dns: true`. */
  dnsAddress?: string;
  datacenter: string;
  managementToken: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** Options of the dev agent. */
export interface ConsulAgentOptions {
  httpPort?: number;
  /** Default `dc1`. */
  datacenter?: string;
  /** Makes this agent a secondary datacenter: joins `primary` over the WAN and replicates its ACLs. */
  primary?: { datacenter: string; wanAddress: string; managementToken: string };
  echo?: (line: string) => void;
  readyTimeoutMs?: number;
  /** Serve the HTTP API over HTTPS only (plain HTTP off) with these PEM files (see consul-tls.ts). */
  tls?: ConsulAgentTls;
  /** The agent's `limits` stanza, e.g. a low `http_max_conns_per_client` to see its 429s. */
  limits?: ConsulAgentLimits;
  /**
   * Serve Consul's DNS interface on a free loopback port, with the `dns_config` of a discovery
   * source behind a caching forwarder (dnsConfigStanza) and a least-privilege default token so
   * DNS can read services and nodes under default deny. Off by default (`dns = -1`).
   */
  dns?: boolean;
}

/**
 * The TTL (seconds) Consul's DNS gives service and node records: how long a caching forwarder
 * may serve an answer, hence the bound on how late an environment sees a change, and the
 * period of the forwarder's queries to Consul per name.
 */
export const CONSUL_DNS_TTL_SECONDS = 5;

/**
 * The `dns_config` a DNS discovery source needs (the operator-facing settings, see the DNS part's
 * notes): passing instances only (Consul returns `warning` ones otherwise), any server may answer
 * (stale reads, so DNS keeps answering without a leader), answers from the agent cache (kept fresh
 * by one background blocking query per name, so Consul's servers see no query per DNS question),
 * the TC bit on an answer trimmed to fit UDP (Node's resolver sends no EDNS, so Consul trims to 3
 * records; with the bit set the resolver asks again over TCP and gets every instance),
 * a short TTL on service and node records (SRV targets are node or `.addr.` names, whose
 * A/AAAA records carry node_ttl), so a cache downstream keeps an answer at most that long, and
 * the same negative TTL (the SOA's min_ttl), so "no passing instance" is cached as long, not 0 s.
 */
export function dnsConfigStanza(ttlSeconds = CONSUL_DNS_TTL_SECONDS): string {
  return `dns_config {
  only_passing = true
  allow_stale = true
  use_cache = true
  enable_truncate = true
  node_ttl = "${ttlSeconds}s"
  service_ttl {
    "*" = "${ttlSeconds}s"
  }
  soa {
    min_ttl = ${ttlSeconds}
  }
}
`;
}

/**
 * Makes a least-privilege DNS token (acl/policies/consul-dns.hcl) the default token of the agents at
 * `addresses` (Consul 1.16 has no DNS token of its own: DNS answers with the default token), so DNS can
 * read services and nodes under default deny.
 */
export async function setDnsDefaultToken(managementToken: string, addresses: readonly string[], tls?: ConsulTls): Promise<void> {
  const admin = createConsulApi({ address: addresses.join(','), token: managementToken, timeoutMs: 5_000, tls });
  let token: string;
  try {
    token = await dnsToken(admin);
  } finally {
    admin.destroy();
  }
  for (const address of addresses) {
    const agent = createConsulApi({ address, token: managementToken, timeoutMs: 5_000, tls });
    try {
      await agent.request('consul.agent.token.set', {}, { method: 'PUT', path: '/agent/token/default', body: { Token: token } });
    } finally {
      agent.destroy();
    }
  }
}

/** Agent limits (Consul's `limits` stanza); unset fields keep Consul's defaults. */
export interface ConsulAgentLimits {
  /** Concurrent HTTP connections per client IP before the agent answers 429 (Consul's default: 200). */
  httpMaxConnsPerClient?: number;
}

/** The `limits` stanza for `limits`, or nothing. */
export function limitsStanza(limits: ConsulAgentLimits | undefined): string {
  if (limits?.httpMaxConnsPerClient === undefined) return '';
  return `limits {\n  http_max_conns_per_client = ${Math.floor(limits.httpMaxConnsPerClient)}\n}\n`;
}

/** TLS of the dev agent's HTTP API. */
export interface ConsulAgentTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** Require a client certificate signed by the CA on every HTTPS request. */
  verifyIncoming: boolean;
  /** What the readiness probe presents when verifyIncoming is on. */
  clientCertFile?: string;
  clientKeyFile?: string;
}

/** Starts the agent and resolves once it has a leader and its ACL system answers. */
export async function startConsulAgent(opts: ConsulAgentOptions = {}): Promise<ConsulAgent> {
  const bin = ensureConsulBinary((l) => console.error(l));
  // Owned: removed on any exit of ours, by the watchdog after a SIGKILL, or by the next start's sweep.
  const dataDir = ownedTempDir('consul');
  const httpPort = opts.httpPort ?? (await freePort());
  const [grpc, serfLan, serfWan, server] = [await freePort(), await freePort(), await freePort(), await freePort()];
  // freePort probes TCP; Consul's DNS listens on UDP and TCP of the same port.
  const dnsPort = opts.dns ? await freePort() : undefined;
  const managementToken = opts.primary?.managementToken ?? randomUUID();
  const datacenter = opts.datacenter ?? 'dc1';
  // A secondary trusts the primary's tokens (replicated) instead of bootstrapping its own. The agent
  // token is set once the agent is up: a least-privilege one of its own, not the management token.
  const aclTokens = opts.primary ? `replication = "${managementToken}"` : `initial_management = "${managementToken}"`;
  const nodeName = `consul-grpc-lambda-${datacenter}`;
  const wan = opts.primary
    ? `primary_datacenter = "${opts.primary.datacenter}"\nretry_join_wan = ["${opts.primary.wanAddress}"]`
    : `primary_datacenter = "${datacenter}"`;
  const hcl = `
datacenter = "${datacenter}"
node_name = "${nodeName}"
${wan}
# Nothing we start may call out to the internet.
disable_update_check = true
ports {
  ${
    opts.tls
      ? `http = -1
  https = ${httpPort}`
      : `http = ${httpPort}`
  }
  grpc = ${grpc}
  grpc_tls = -1
  dns = ${dnsPort ?? -1}
  serf_lan = ${serfLan}
  serf_wan = ${serfWan}
  server = ${server}
}
acl {
  enabled = true
  default_policy = "deny"
  enable_token_persistence = false
  enable_token_replication = ${opts.primary ? 'true' : 'false'}
  tokens {
    ${aclTokens}
  }
}
${opts.tls ? tlsStanza(opts.tls) : ''}
${limitsStanza(opts.limits)}
${opts.dns ? dnsConfigStanza() : ''}`;
  writeFileSync(join(dataDir, 'agent.hcl'), hcl, { mode: 0o600 });
  const proc = startProcess(
    'consul',
    bin,
    [
      'agent',
      '-dev',
      '-ui',
      '-client',
      '127.0.0.1',
      '-bind',
      '127.0.0.1',
      '-log-level',
      'warn',
      '-data-dir',
      join(dataDir, 'data'),
      '-config-file',
      join(dataDir, 'agent.hcl'),
    ],
    { echo: opts.echo },
  );
  // However it ends (stop(), stopAll, a crash), its data dir goes with it.
  void proc.exited.then(() => removeOwned(dataDir));
  const address = opts.tls ? `https://127.0.0.1:${httpPort}` : `127.0.0.1:${httpPort}`;
  const stop = async () => {
    await stopProcess(proc, 'SIGINT', 5_000);
    removeOwned(dataDir);
  };
  try {
    await waitUntilReady(address, managementToken, proc, opts.readyTimeoutMs ?? 30_000, opts.tls);
    // The agent has read its config, and the file holds the management token: gone from disk now.
    // Consul would read it again only on a reload (SIGHUP, `consul reload`), which nothing of ours
    // sends: the agent runs in a process group of its own, away from the terminal's signals.
    rmSync(join(dataDir, 'agent.hcl'), { force: true });
    await setAgentToken(address, managementToken, nodeName, opts.tls);
    if (opts.dns) await setDnsDefaultToken(managementToken, [address], tlsMaterial(opts.tls));
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    address,
    httpPort,
    wanAddress: `127.0.0.1:${serfWan}`,
    ...(dnsPort ? { dnsAddress: `127.0.0.1:${dnsPort}` } : {}),
    datacenter,
    managementToken,
    process: proc,
    stop,
  };
}

/** Consul 1.16's `tls` stanza: the defaults apply to the HTTPS API (and internal RPC). */
function tlsStanza(t: ConsulAgentTls): string {
  // verify_incoming on the HTTPS API only: in tls.defaults it would also hold the agent's own
  // plaintext internal RPC to itself, which DNS answers go through (every lookup a SERVFAIL).
  return `tls {
  defaults {
    ca_file = ${JSON.stringify(t.caFile)}
    cert_file = ${JSON.stringify(t.certFile)}
    key_file = ${JSON.stringify(t.keyFile)}
  }
  https {
    verify_incoming = ${t.verifyIncoming}
  }
}
`;
}

/** One GET with a 1 s timeout: fetch for plain HTTP, node:https with the CA (and client certificate) for TLS. */
async function probe(
  address: string,
  path: string,
  headers: Record<string, string>,
  tls: ConsulAgentTls | undefined,
): Promise<{ ok: boolean; status: number; body: string }> {
  if (!tls) {
    // connection: close, so a readiness probe leaves no pooled connection behind: it would count
    // against the agent's per-IP cap (limits.http_max_conns_per_client) for seconds afterwards.
    const res = await fetch(`http://${address}${path}`, {
      headers: { ...headers, connection: 'close' },
      signal: AbortSignal.timeout(1_000),
    });
    return { ok: res.ok, status: res.status, body: await res.text() };
  }
  const read = (file: string | undefined) => (file ? readFileSync(file) : undefined);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${address}${path}`,
      {
        headers,
        rejectUnauthorized: true,
        ca: read(tls.caFile),
        cert: read(tls.clientCertFile),
        key: read(tls.clientKeyFile),
        timeout: 1_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () =>
          resolve({ ok: (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300, status: res.statusCode ?? 0, body }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out after 1000 ms')));
    req.on('error', reject);
    req.end();
  });
}

async function waitUntilReady(
  address: string,
  token: string,
  proc: ManagedProcess,
  timeoutMs: number,
  tls?: ConsulAgentTls,
): Promise<void> {
  await pollWhileRunning(
    proc,
    async () => {
      const leader = await probe(address, '/v1/status/leader', {}, tls);
      const self = await probe(address, '/v1/acl/token/self', { 'x-consul-token': token }, tls);
      if (!(leader.ok && leader.body.length > 2 && self.ok)) throw new Error(`leader ${leader.status}, acl ${self.status}`);
      return true;
    },
    `consul at ${address} to be ready`,
    { timeoutMs, intervalMs: 200 },
  );
}

/** Gives the agent its own token (node write on itself, service read), as Consul's docs describe. */
async function setAgentToken(address: string, managementToken: string, nodeName: string, tls?: ConsulAgentTls): Promise<void> {
  const admin = createConsulApi({ address, token: managementToken, timeoutMs: 5_000, tls: tlsMaterial(tls) });
  try {
    const token = await agentToken(admin, nodeName);
    await admin.request('consul.agent.token.set', {}, { method: 'PUT', path: '/agent/token/agent', body: { Token: token } });
  } finally {
    admin.destroy();
  }
}

/** The PEM text of the agent's TLS files, for a ConsulApi. */
function tlsMaterial(tls: ConsulAgentTls | undefined): ConsulTls | undefined {
  return tls
    ? {
        ca: readFileSync(tls.caFile, 'utf8'),
        ...(tls.clientCertFile && tls.clientKeyFile
          ? { cert: readFileSync(tls.clientCertFile, 'utf8'), key: readFileSync(tls.clientKeyFile, 'utf8') }
          : {}),
      }
    : undefined;
}
