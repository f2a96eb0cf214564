/**
 * The CA that signed the certificates of backends reached over TLS (`greeterTransport=tls`, and the rpc
 * route's `transport: tls` services), outside the mesh. Named like Consul's own CONSUL_CACERT: a PEM file
 * path locally, or an SSM parameter holding the PEM when deployed, read once per execution environment.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readBackendCaFile } from './environment';
import { ConfigError } from './errors';
import type { SecretResolver } from './secrets';

/** The CA bundle from GREETER_CACERT (file) or GREETER_CACERT_PARAMETER (SSM); undefined when neither is set (Node's default roots apply). Throws ConfigError naming the variable, never the value. */
export async function loadGreeterCa(secrets: SecretResolver, file: string | undefined = readBackendCaFile()): Promise<string | undefined> {
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(
        'invalid_environment',
        `GREETER_CACERT: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`,
      );
    }
    return checkCa(text, `file ${file}`, 'invalid_environment');
  }
  // With no file, `resolve` reads the parameter named by GREETER_CACERT_PARAMETER, if any.
  const fromSsm = await secrets.resolve('GREETER_CACERT');
  return fromSsm === undefined ? undefined : checkCa(fromSsm, 'SSM parameter GREETER_CACERT_PARAMETER', 'invalid_secret');
}

/** The text if its first PEM block parses as a CA certificate. */
function checkCa(text: string, from: string, kind: 'invalid_environment' | 'invalid_secret'): string {
  const block = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text)?.[0];
  if (!isCaCertificate(block)) throw new ConfigError(kind, `GREETER_CACERT (${from}) holds no PEM CA certificate`);
  return text;
}

function isCaCertificate(pem: string | undefined): boolean {
  try {
    return pem !== undefined && new X509Certificate(pem).ca;
  } catch {
    return false;
  }
}
