/**
 * The node-consul clients of one ConsulApi: two per address, built on first use, so a token or TLS material
 * resolved after start-up (SSM) is the one they carry. Every https agent verifies the Consul agent's
 * certificate, against the CA given or Node's default trust store; verification is never turned off.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import Consul from 'consul';
import type { ConsulAddress } from './consul-address';
import type { RawConsulClient } from './raw-client';

/** How to reach Consul and with which ACL token. */
export interface ConsulConnection {
  /** One address, or a comma-separated list tried in order when one stops answering. */
  address: string;
  /** The token, or a function giving it once it is known (it may come from SSM after start-up). */
  token?: string | (() => string | undefined);
  /** Timeout for ordinary (non-blocking) calls. */
  timeoutMs?: number;
  /**
   * How to verify an https agent (and prove who we are to one with verify_incoming), or a
   * function giving it once known (a CA from SSM). Read when the first client is built, like
   * the token. Without it an https address is verified against Node's default trust store;
   * verification is never turned off.
   */
  tls?: ConsulTls | (() => ConsulTls | undefined);
}

/** TLS material for https addresses: PEM text, not file paths (the caller reads files or SSM). */
export interface ConsulTls {
  /** CA certificate(s) that signed the agent's certificate (CONSUL_CACERT). */
  ca?: string;
  /** Client certificate and its key, for an agent with verify_incoming (CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY). */
  cert?: string;
  key?: string;
  /** The name the agent's certificate must carry, instead of the address's host; also sent as SNI (CONSUL_TLS_SERVER_NAME, or the functions' default server.dc1.consul). */
  serverName?: string;
}

/** Per address, the client for blocking queries (`long`) and the one for every other call (`short`); see `agentFor`. */
export class ConsulClients {
  private readonly clients: { long?: RawConsulClient; short?: RawConsulClient }[];
  private resolvedToken: string | undefined;
  private tls: ConsulTls | undefined;

  constructor(
    private readonly conn: ConsulConnection,
    private readonly endpoints: readonly ConsulAddress[],
  ) {
    this.clients = endpoints.map(() => ({}));
  }

  /** The token the clients send (read when the first client was built; undefined before). */
  get token(): string | undefined {
    return this.resolvedToken;
  }

  /** The client of address `i` for a blocking query or for any other call, built on first use. */
  client(i: number, blocking: boolean): RawConsulClient {
    if (this.clients.every((c) => c.long === undefined && c.short === undefined)) {
      this.resolvedToken = typeof this.conn.token === 'function' ? this.conn.token() : this.conn.token;
      this.tls = typeof this.conn.tls === 'function' ? this.conn.tls() : this.conn.tls;
    }
    const slot = this.clients[i] ?? this.clients[0]!;
    const existing = blocking ? slot.long : slot.short;
    if (existing) return existing;
    const { host, port, secure } = this.endpoints[i] ?? this.endpoints[0]!;
    // node-consul hands `agent` to every request (papi); ours carries the TLS material and turns
    // verification on explicitly (see httpsOptions).
    const client = new Consul({
      host,
      port,
      secure,
      agent: agentFor(secure, blocking, this.tls),
      defaults: this.resolvedToken ? { token: this.resolvedToken } : {},
    }) as unknown as RawConsulClient;
    if (blocking) slot.long = client;
    else slot.short = client;
    return client;
  }

  /** Closes every client built so far. */
  destroy(): void {
    for (const c of this.clients) {
      c.long?.destroy();
      c.short?.destroy();
    }
  }
}

/** Idle keep-alive connections the blocking-query client keeps: about one per watch; a burst of blocking waits closes the rest. */
export const IDLE_BLOCKING_SOCKETS = 8;

/**
 * The HTTP agent of one client. Consul counts every open connection of a source IP against
 * `limits.http_max_conns_per_client` (idle keep-alive ones too, and a frozen Lambda keeps its
 * sockets open) and answers 429 beyond it; many environments share one IP behind a VPC's
 * Hyperplane ENI. So an environment keeps one long-lived connection per blocking query
 * (keep-alive: the next poll reuses it), but no more than IDLE_BLOCKING_SOCKETS of them idle: a
 * burst of blocking waits (the registry's Idempotency-Key waits, one per concurrent caller) would
 * otherwise leave that many sockets open for the life of the environment, and 100 concurrent
 * callers then met 429s. Every other call (config reads, lease writes: a few per minute) goes on a
 * connection that closes after its answer. Over https, the agent's TLS session cache lets those
 * short connections resume the session.
 */
export function agentFor(secure: boolean, blocking: boolean, tls: ConsulTls | undefined): HttpAgent | HttpsAgent {
  const options = blocking ? { keepAlive: true, maxFreeSockets: IDLE_BLOCKING_SOCKETS } : { keepAlive: false };
  return secure ? new HttpsAgent({ ...options, ...httpsOptions(tls) }) : new HttpAgent(options);
}

/**
 * The https.Agent options for `tls`. rejectUnauthorized is set, not left to Node's default: the
 * default follows NODE_TLS_REJECT_UNAUTHORIZED, and an environment variable must not be able to
 * turn verification off and let the token go to whoever answers.
 */
function httpsOptions(tls: ConsulTls | undefined): {
  rejectUnauthorized: true;
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
} {
  return {
    rejectUnauthorized: true,
    ...(tls?.ca ? { ca: tls.ca } : {}),
    ...(tls?.cert ? { cert: tls.cert } : {}),
    ...(tls?.key ? { key: tls.key } : {}),
    ...(tls?.serverName ? { servername: tls.serverName } : {}),
  };
}
