/**
 * Which channel credentials a greet uses, from the config's transport: plaintext; `tls` (the Greeters'
 * CA and the name their certificates carry); or `connect` (the gateway's Connect leaf and roots). The
 * material is requested before discovery is awaited, so a cold start fetches both at once; warm, it is
 * cached by the runtime.
 */
import type { ChannelCredentials } from '@grpc/grpc-js';
import { connectChannelCredentials } from '../connect/credentials';
import type { ServiceQuery } from '../discovery/service-query';
import { greeterTlsCredentials } from '../grpc/tls-credentials';
import { GreetError, type GreetErrorDetails } from './errors';
import type { GatewayConfig } from './gateway-config';
import type { GatewayRuntime } from './gateway-runtime';

/** The Connect identity the gateway presents. */
export function gatewayIdentity(cfg: GatewayConfig): string {
  return cfg.gatewayIdentity || cfg.leaseService;
}

/** The name every Greeter certificate must carry with greeterTransport=tls. */
export function greeterTlsServerName(cfg: GatewayConfig): string {
  return cfg.greeterTlsServerName || `${cfg.greeterService}.service.consul`;
}

/** The credentials of one greet, requested and not yet awaited. */
export interface PendingCredentials {
  /** The Connect identity presented (connect transport only). */
  identity?: string;
  /** The name the Greeters' certificates must carry (tls transport only); it also keys the channel. */
  tlsServerName?: string;
  /**
   * The credentials factory for a new channel (undefined: plaintext). A cold start waits up to `waitMs()`
   * for the Connect material; throws GreetError `unavailable` when there is none yet.
   */
  settle(waitMs: () => number, details: GreetErrorDetails): Promise<(() => ChannelCredentials) | undefined>;
}

const PLAINTEXT: PendingCredentials = { settle: () => Promise.resolve(undefined) };

/** Starts fetching what the transport of `cfg` needs for `query` (nothing for plaintext). */
export function requestCredentials(rt: GatewayRuntime, cfg: GatewayConfig, query: ServiceQuery): PendingCredentials {
  if (query.connect) {
    const identity = gatewayIdentity(cfg);
    const certs = rt.connectCertificates(identity);
    return {
      identity,
      async settle(waitMs, details) {
        // Only a cold start waits here: afterwards the background watches keep the material current.
        if (!certs.current()) await certs.ready(waitMs());
        if (!certs.current()) throw new GreetError('unavailable', `no Connect certificate for ${identity} yet`, details);
        return () => connectChannelCredentials(certs, query.service);
      },
    };
  }
  if (cfg.greeterTransport !== 'tls') return PLAINTEXT;
  const tlsServerName = greeterTlsServerName(cfg);
  const ca = rt.greeterCa();
  // Awaited in settle, after discovery; until then a failed read must not count as unhandled.
  ca.catch(() => undefined);
  return {
    tlsServerName,
    async settle() {
      const pem = await ca;
      return () => greeterTlsCredentials(pem, tlsServerName);
    },
  };
}
