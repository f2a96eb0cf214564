/**
 * The functions' client certificate for a Consul agent with verify_incoming, with least privilege:
 * extended key usage clientAuth only and no subject alternative names, so whoever holds it (and its
 * key) cannot pass for a Consul agent. `consul tls cert create -client` cannot make one (it adds
 * serverAuth and the names localhost, 127.0.0.1 and client.<dc>.consul), and Node's crypto cannot
 * issue X.509 certificates, so @peculiar/x509 builds it over Node's WebCrypto.
 *
 * Run as a script (`node --import tsx function-cert.ts <dir> <days>`), it signs one with the CA in
 * `<dir>` (consul-agent-ca.pem and its key) and writes it there: `createConsulTlsFiles` is
 * synchronous, and the library only signs asynchronously.
 */
import 'reflect-metadata'; // @peculiar/x509's dependency injection (tsyringe) needs the Reflect polyfill
import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';

/** The files the script writes beside the CA. */
export const FUNCTION_CERT_FILE = 'functions-client.pem';
export const FUNCTION_KEY_FILE = 'functions-client-key.pem';

/** Default subject of the functions' certificate: a label for logs, never a host name. */
export const FUNCTION_CERT_SUBJECT = 'CN=consul-grpc-lambda functions (client only)';

/** What to sign and with which CA. */
export interface FunctionCertRequest {
  caCertPem: string;
  /** The CA's private key (an EC key, as `consul tls ca create` makes; SEC1 or PKCS#8 PEM). */
  caKeyPem: string;
  days: number;
  subject?: string;
}

/** A new P-256 key and a certificate for it, signed by the CA: clientAuth only, digitalSignature only, not a CA, no SANs. */
export async function mintFunctionClientCertificate(req: FunctionCertRequest): Promise<{ certPem: string; keyPem: string }> {
  // Node's WebCrypto is the standard one; only its typings differ from the DOM's that the library names.
  type LibCrypto = NonNullable<Parameters<typeof x509.X509CertificateGenerator.create>[1]>;
  const crypto = webcrypto as unknown as LibCrypto;
  const ca = new x509.X509Certificate(req.caCertPem);
  const caKey = createPrivateKey(req.caKeyPem);
  const curve = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' }[caKey.asymmetricKeyDetails?.namedCurve ?? ''];
  if (caKey.asymmetricKeyType !== 'ec' || !curve)
    throw new Error('the Consul CA key must be an EC key on P-256, P-384 or P-521 (as consul tls ca create makes)');
  const hash = { 'P-256': 'SHA-256', 'P-384': 'SHA-384', 'P-521': 'SHA-512' }[curve];
  const signingKey = await crypto.subtle.importKey(
    'pkcs8',
    caKey.export({ type: 'pkcs8', format: 'der' }),
    { name: 'ECDSA', namedCurve: curve },
    false,
    ['sign'],
  );
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const caKeyId = ca.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create(
    {
      // A positive 128-bit serial (the top bit cleared), as RFC 5280 asks.
      serialNumber: `0${randomBytes(16).toString('hex').slice(1)}`,
      subject: req.subject ?? FUNCTION_CERT_SUBJECT,
      issuer: ca.subject,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + req.days * 86_400_000),
      publicKey: keys.publicKey,
      signingKey,
      signingAlgorithm: { name: 'ECDSA', hash },
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        ...(caKeyId ? [new x509.AuthorityKeyIdentifierExtension(caKeyId)] : []),
      ],
    },
    crypto,
  );
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { certPem: cert.toString('pem'), keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}

/** Signs a functions' certificate with the Consul CA in `dir` and writes it there (the key owner-only). */
export async function writeFunctionClientCertificate(dir: string, days: number): Promise<void> {
  const { certPem, keyPem } = await mintFunctionClientCertificate({
    caCertPem: readFileSync(join(dir, 'consul-agent-ca.pem'), 'utf8'),
    caKeyPem: readFileSync(join(dir, 'consul-agent-ca-key.pem'), 'utf8'),
    days,
  });
  writeFileSync(join(dir, FUNCTION_KEY_FILE), keyPem, { mode: 0o600 });
  writeFileSync(join(dir, FUNCTION_CERT_FILE), certPem);
}

if (require.main === module) {
  const [dir, days] = process.argv.slice(2);
  if (!dir || !days || !(Number(days) > 0)) {
    console.error('usage: function-cert.ts <dir holding consul-agent-ca.pem and its key> <days>');
    process.exit(2);
  }
  writeFunctionClientCertificate(dir, Number(days)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}
