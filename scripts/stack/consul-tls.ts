/**
 * Certificates for a Consul agent with TLS in a temp dir: a CA and a server certificate for
 * `server.<dc>.consul`, `localhost` and 127.0.0.1, made by Consul's own CLI (`consul tls ca create`,
 * `consul tls cert create -server`), and the functions' client certificate for an agent with
 * verify_incoming, made by function-cert.ts with clientAuth only and no names, so that it cannot pose
 * as an agent (the CLI's `-client` certificates carry serverAuth and localhost/127.0.0.1).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureConsulBinary } from '../consul-binary';
import { FUNCTION_CERT_FILE, FUNCTION_KEY_FILE } from './function-cert';
import { ownedTempDir, removeOwned } from './lifecycle';

/** PEM files in `dir`; `remove()` deletes the dir. */
export interface ConsulTlsFiles {
  dir: string;
  caFile: string;
  caKeyFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  /** The functions' client certificate: extended key usage clientAuth only, no subject alternative names. */
  clientCertFile: string;
  clientKeyFile: string;
  remove(): void;
}

/** Options of the certificates. */
export interface ConsulTlsOptions {
  /** Default `dc1`; the server certificate names `server.<dc>.consul`. */
  datacenter?: string;
  /** Validity of every certificate, default 2 days (they live as long as a test run). */
  days?: number;
}

/** Makes a CA, a server certificate and the functions' (client-only) certificate signed by it. */
export function createConsulTlsFiles(opts: ConsulTlsOptions = {}): ConsulTlsFiles {
  const dc = opts.datacenter ?? 'dc1';
  const days = String(opts.days ?? 2);
  const dir = consulTls([
    ['tls', 'ca', 'create', '-days', days],
    ['tls', 'cert', 'create', '-server', '-dc', dc, '-days', days],
  ]);
  try {
    // A child, because the certificate library signs asynchronously and callers expect the files now.
    execFileSync(process.execPath, ['--import', 'tsx', join(__dirname, 'function-cert.ts'), dir, days], {
      cwd: join(__dirname, '..', '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
    });
  } catch (err) {
    removeOwned(dir);
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`minting the functions' client certificate failed: ${stderr || (err instanceof Error ? err.message : String(err))}`, {
      cause: err,
    });
  }
  return {
    dir,
    caFile: join(dir, 'consul-agent-ca.pem'),
    caKeyFile: join(dir, 'consul-agent-ca-key.pem'),
    serverCertFile: join(dir, `${dc}-server-consul-0.pem`),
    serverKeyFile: join(dir, `${dc}-server-consul-0-key.pem`),
    clientCertFile: join(dir, FUNCTION_CERT_FILE),
    clientKeyFile: join(dir, FUNCTION_KEY_FILE),
    remove: () => removeOwned(dir),
  };
}

/** A CA of its own for Greeter backends outside the mesh, and one server certificate signed by it. */
export interface GreeterTlsFiles {
  dir: string;
  caFile: string;
  /** The Greeter CA's private key (only needed to sign more certificates). */
  caKeyFile: string;
  certFile: string;
  keyFile: string;
  remove(): void;
}

/**
 * Makes a Greeter CA (domain `greeter`, so it can never pass for a Consul agent's CA) and a server
 * certificate for `serverName`, `localhost` and 127.0.0.1, with Consul's CLI.
 */
export function createGreeterTlsFiles(serverName: string, days = 2): GreeterTlsFiles {
  const dir = consulTls([
    ['tls', 'ca', 'create', '-domain', 'greeter', '-days', String(days)],
    ['tls', 'cert', 'create', '-server', '-domain', 'greeter', '-additional-dnsname', serverName, '-days', String(days)],
  ]);
  return {
    dir,
    caFile: join(dir, 'greeter-agent-ca.pem'),
    caKeyFile: join(dir, 'greeter-agent-ca-key.pem'),
    certFile: join(dir, 'dc1-server-greeter-0.pem'),
    keyFile: join(dir, 'dc1-server-greeter-0-key.pem'),
    remove: () => removeOwned(dir),
  };
}

/** Runs `consul tls …` commands in a new private temp dir and returns it (removed again on failure). */
function consulTls(commands: string[][]): string {
  const bin = ensureConsulBinary((l) => console.error(l));
  // Owned (lifecycle.ts): private keys, removed on any exit of ours, a SIGKILL included.
  const dir = ownedTempDir('tls');
  try {
    // The CLI writes into its working directory and picks up the CA it finds there.
    for (const args of commands) execFileSync(bin, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  } catch (err) {
    removeOwned(dir);
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`consul tls failed: ${stderr || (err instanceof Error ? err.message : String(err))}`, { cause: err });
  }
  return dir;
}
