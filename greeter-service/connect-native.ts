/**
 * Connect-native serving for the Greeter: mTLS with the instance's leaf certificate (kept current by
 * blocking queries, applied to new connections without a restart), client certificates required and
 * verified against the Connect roots, and every Greeter call authorized against Consul intentions.
 */
import type * as grpc from '@grpc/grpc-js';
import { createConnectAuthorizer } from '../lib/connect/authorizer';
import { ConnectCertificates } from '../lib/connect/connect-certificates';
import { connectServerCredentials } from '../lib/connect/credentials';
import { consulSerial, parseServiceUri, uriSans } from '../lib/connect/spiffe';
import type { ConsulApi } from '../lib/consul/consul-api';
import type { Log } from '../lib/log/logger';

/** What startGreeterServer needs to serve Connect-native. */
export interface ConnectNativeServing {
  credentials: grpc.ServerCredentials;
  authorize(call: grpc.ServerUnaryCall<unknown, unknown>): Promise<string | undefined>;
  /** The SPIFFE URI of the leaf this instance presents. */
  serviceUri: string;
  stop(): void;
}

/**
 * Fetches the leaf of `identity` (normally the service name; another one only to test that callers
 * refuse it) and the roots, waiting at most `readyTimeoutMs`, and authorizes callers of `service`.
 */
export async function startConnectNative(
  api: ConsulApi,
  service: string,
  identity: string,
  log: Log,
  readyTimeoutMs = 10_000,
): Promise<ConnectNativeServing> {
  const certs = new ConnectCertificates(api, identity, log);
  const material = await certs.ready(readyTimeoutMs);
  if (!material) {
    const why = certs.snapshot().lastError;
    certs.stop();
    throw new Error(`no Connect certificate for ${identity} within ${readyTimeoutMs} ms${why ? `: ${String(why)}` : ''}`);
  }
  certs.onChange((m) =>
    log.info('connect certificates updated', { serviceUri: m.serviceUri, validBefore: m.validBefore, version: m.version }),
  );
  const authorizer = createConnectAuthorizer(api, service);
  return {
    credentials: connectServerCredentials(certs),
    serviceUri: material.serviceUri,
    async authorize(call) {
      const cert = call.getAuthContext()?.sslPeerCertificate;
      if (!cert) return 'no client certificate';
      const uri = uriSans(cert.subjectaltname).find((u) => parseServiceUri(u) !== undefined);
      if (!uri) return 'client certificate carries no Connect service identity';
      const res = await authorizer.authorize(uri, consulSerial(cert.serialNumber));
      return res.authorized ? undefined : `${uri} may not call ${service}: ${res.reason || 'denied by intentions'}`;
    },
    stop: () => certs.stop(),
  };
}
