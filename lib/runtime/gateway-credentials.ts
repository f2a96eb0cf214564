/**
 * Which channel credentials a call uses, from its route's transport: plaintext; `tls` (the backends'
 * CA from GREETER_CACERT and the name their certificates carry); or `connect` (the function's Connect
 * leaf and roots). The material is requested before discovery is awaited, so a cold start fetches both
 * at once; warm, it is cached by the runtime.
 */
import type { ChannelCredentials } from '@grpc/grpc-js';
import { connectChannelCredentials } from '../connect/credentials';
import type { ServiceQuery } from '../discovery/service-query';
import { greeterTlsCredentials } from '../grpc/tls-credentials';
import type { GatewayCalls } from './gateway-calls';

/** How a Consul service is reached: its discovery query (connect set for the connect transport) and transport. */
export interface CallRoute {
  query: ServiceQuery;
  transport: 'plaintext' | 'tls' | 'connect';
  /** With transport tls: the name every instance's certificate carries (empty: `<service>.service.consul`). */
  tlsServerName: string;
  /** With transport connect: the Connect identity presented. */
  identity: string;
}

/** The credentials of one call, requested and not yet awaited. */
export interface PendingCredentials {
  /** The Connect identity presented (connect transport only). */
  identity?: string;
  /** The name the backends' certificates must carry (tls transport only); it also keys the channel. */
  tlsServerName?: string;
  /**
   * The credentials factory for a new channel (undefined: plaintext). A cold start waits up to `waitMs()`
   * for the Connect material; resolves `missing` when there is none yet.
   */
  settle(waitMs: () => number): Promise<SettledCredentials>;
  /** What `settle` would resolve, when it is known without waiting (plaintext): the call skips an await. */
  ready?: SettledCredentials;
}

/** A channel's credentials factory (undefined: plaintext), or why there is none yet. */
export interface SettledCredentials {
  creds?: () => ChannelCredentials;
  missing?: string;
}

const PLAINTEXT: PendingCredentials = { ready: {}, settle: () => Promise.resolve({}) };

/** The name TLS instances of `route` must carry. */
export function tlsServerNameOf(route: Pick<CallRoute, 'query' | 'tlsServerName'>): string {
  return route.tlsServerName || `${route.query.service}.service.consul`;
}

/** Starts fetching what the route's transport needs (nothing for plaintext). */
export function requestCredentials(rt: Pick<GatewayCalls, 'connectCertificates' | 'backendCa'>, route: CallRoute): PendingCredentials {
  if (route.transport === 'connect') {
    const identity = route.identity;
    const certs = rt.connectCertificates(identity);
    return {
      identity,
      async settle(waitMs) {
        // Only a cold start waits here: afterwards the background watches keep the material current.
        if (!certs.current()) await certs.ready(waitMs());
        if (!certs.current()) return { missing: `no Connect certificate for ${identity} yet` };
        return { creds: () => connectChannelCredentials(certs, route.query.service) };
      },
    };
  }
  if (route.transport !== 'tls') return PLAINTEXT;
  const tlsServerName = tlsServerNameOf(route);
  const ca = rt.backendCa();
  // Awaited in settle, after discovery; until then a failed read must not count as unhandled.
  ca.catch(() => undefined);
  return {
    tlsServerName,
    async settle() {
      const pem = await ca;
      return { creds: () => greeterTlsCredentials(pem, tlsServerName) };
    },
  };
}
