/** How a route's transport is reached: the channel credentials of plaintext, TLS or Connect-native mTLS. */
import type { ChannelCredentials } from '@grpc/grpc-js';
import { connectChannelCredentials } from '../connect/credentials';
import { greeterTlsCredentials } from '../grpc/tls-credentials';
import { RpcError } from './errors';
import type { RpcConfig } from './rpc-config';
import type { RpcRuntime } from './rpc-runtime';
import type { ServiceRoute } from './service-map';

/** The channel credentials a route's transport needs (undefined: plaintext); waits for Connect certificates on a cold start only. */
export async function credentialsFor(
  rt: RpcRuntime,
  cfg: RpcConfig,
  route: ServiceRoute,
  waitMs: () => number,
): Promise<{ creds?: () => ChannelCredentials; tlsServerName?: string; identity?: string }> {
  if (route.transport === 'tls') {
    const name = route.tlsServerName || `${route.service}.service.consul`;
    return { creds: () => greeterTlsCredentials(undefined, name), tlsServerName: name };
  }
  if (route.transport !== 'connect') return {};
  const identity = cfg.gatewayIdentity || cfg.leaseService;
  const certs = rt.connectCertificates(identity);
  if (!certs.current()) await certs.ready(waitMs());
  if (!certs.current()) throw new RpcError('unavailable', `no Connect certificate for ${identity} yet`, { backendService: route.service });
  return { creds: () => connectChannelCredentials(certs, route.service), identity };
}
