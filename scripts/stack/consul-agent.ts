/**
 * Starts a real Consul dev agent with ACLs on (default deny) on chosen or free
 * loopback ports, with its own data dir, for the local stack and the tests.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { provisionToken } from '../../lib/consul/acl-admin';
import { createConsulApi } from '../../lib/consul/consul-api';
import { ensureConsulBinary } from '../consul-binary';
import { freePort, startProcess, stopProcess, type ManagedProcess } from './processes';

/** A running agent; `managementToken` is for setup only, never for functions. */
export interface ConsulAgent {
  /** `127.0.0.1:<port>`, or `https://127.0.0.1:<port>` with TLS. */
  address: string;
  /** The HTTP API port (the HTTPS port with TLS). */
  httpPort: number;
  /** `127.0.0.1:<serf_wan port>`: where another datacenter joins this one over the WAN. */
  wanAddress: string;
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
  const dataDir = mkdtempSync(join(tmpdir(), 'consul-grpc-lambda-consul-'));
  const httpPort = opts.httpPort ?? (await freePort());
  const [grpc, serfLan, serfWan, server] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const managementToken = opts.primary?.managementToken ?? randomUUID();
  const datacenter = opts.datacenter ?? 'dc1';
  // A secondary trusts the primary's tokens (replicated) instead of bootstrapping its own. The agent
  // token is set once the agent is up: a least-privilege one of its own, not the management token.
  const aclTokens = opts.primary ? `replication = "${managementToken}"` : `initial_management = "${managementToken}"`;
  const nodeName = `consul-grpc-lambda-${datacenter}`;
  const wan = opts.primary ? `primary_datacenter = "${opts.primary.datacenter}"\nretry_join_wan = ["${opts.primary.wanAddress}"]` : `primary_datacenter = "${datacenter}"`;
  const hcl = `
datacenter = "${datacenter}"
node_name = "${nodeName}"
${wan}
# Nothing we start may call out to the internet.
disable_update_check = true
ports {
  ${opts.tls ? `http = -1
  https = ${httpPort}` : `http = ${httpPort}`}
  grpc = ${grpc}
  grpc_tls = -1
  dns = -1
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
${limitsStanza(opts.limits)}`;
  writeFileSync(join(dataDir, 'agent.hcl'), hcl, { mode: 0o600 });
  const proc = startProcess(
    'consul',
    bin,
    ['agent', '-dev', '-ui', '-client', '127.0.0.1', '-bind', '127.0.0.1', '-log-level', 'warn', '-data-dir', join(dataDir, 'data'), '-config-file', join(dataDir, 'agent.hcl')],
    { echo: opts.echo },
  );
  // However it ends (stop(), stopAll, a crash), its data dir goes with it.
  void proc.exited.then(() => rmSync(dataDir, { recursive: true, force: true }));
  const address = opts.tls ? `https://127.0.0.1:${httpPort}` : `127.0.0.1:${httpPort}`;
  const stop = async () => {
    await stopProcess(proc, 'SIGINT', 5_000);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitUntilReady(address, managementToken, proc, opts.readyTimeoutMs ?? 30_000, opts.tls);
    await setAgentToken(address, managementToken, nodeName, opts.tls);
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, httpPort, wanAddress: `127.0.0.1:${serfWan}`, datacenter, managementToken, process: proc, stop };
}

/** Consul 1.16's `tls` stanza: the defaults apply to the HTTPS API (and internal RPC). */
function tlsStanza(t: ConsulAgentTls): string {
  return `tls {
  defaults {
    ca_file = ${JSON.stringify(t.caFile)}
    cert_file = ${JSON.stringify(t.certFile)}
    key_file = ${JSON.stringify(t.keyFile)}
    verify_incoming = ${t.verifyIncoming}
  }
}
`;
}

/** One GET with a 1 s timeout: fetch for plain HTTP, node:https with the CA (and client certificate) for TLS. */
async function probe(address: string, path: string, headers: Record<string, string>, tls: ConsulAgentTls | undefined): Promise<{ ok: boolean; status: number; body: string }> {
  if (!tls) {
    const res = await fetch(`http://${address}${path}`, { headers, signal: AbortSignal.timeout(1_000) });
    return { ok: res.ok, status: res.status, body: await res.text() };
  }
  const read = (file: string | undefined) => (file ? readFileSync(file) : undefined);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${address}${path}`, { headers, ca: read(tls.caFile), cert: read(tls.clientCertFile), key: read(tls.clientKeyFile), timeout: 1_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ ok: (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300, status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out after 1000 ms')));
    req.on('error', reject);
    req.end();
  });
}

async function waitUntilReady(address: string, token: string, proc: ManagedProcess, timeoutMs: number, tls?: ConsulAgentTls): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) throw new Error(`consul exited with ${proc.child.exitCode ?? proc.child.signalCode}:\n${proc.output.slice(-20).join('\n')}`);
    try {
      const leader = await probe(address, '/v1/status/leader', {}, tls);
      const self = await probe(address, '/v1/acl/token/self', { 'x-consul-token': token }, tls);
      if (leader.ok && leader.body.length > 2 && self.ok) return;
      last = `leader ${leader.status}, acl ${self.status}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`consul at ${address} not ready within ${timeoutMs} ms (${last}):\n${proc.output.slice(-20).join('\n')}`);
}

/** Gives the agent its own token (node write on itself, service read), as Consul's docs describe. */
async function setAgentToken(address: string, managementToken: string, nodeName: string, tls?: ConsulAgentTls): Promise<void> {
  const material = tls ? { ca: readFileSync(tls.caFile, 'utf8'), ...(tls.clientCertFile && tls.clientKeyFile ? { cert: readFileSync(tls.clientCertFile, 'utf8'), key: readFileSync(tls.clientKeyFile, 'utf8') } : {}) } : undefined;
  const admin = createConsulApi({ address, token: managementToken, timeoutMs: 5_000, tls: material });
  try {
    const token = await provisionToken(admin, { name: `consul-agent-${nodeName}`, template: 'consul-agent', params: { nodeName } }, {});
    await admin.request('consul.agent.token.set', {}, { method: 'PUT', path: '/agent/token/agent', body: { Token: token } });
  } finally {
    admin.destroy();
  }
}
