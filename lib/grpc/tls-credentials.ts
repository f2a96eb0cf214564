/**
 * Server-authenticated TLS to Greeter backends outside the mesh (`greeterTransport=tls`). Every
 * instance behind one `consul:` channel must present a certificate for the same name: grpc-js checks
 * one name per channel, and the name in Consul's catalog is the service's, not the host's.
 */
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';

/** Channel credentials that accept a server only if its chain verifies against `caPem` (Node's default roots when undefined) and its certificate names `serverName`. */
export function greeterTlsCredentials(caPem: string | undefined, serverName: string): ChannelCredentials {
  const key = `${serverName}\n${caPem ?? ''}`;
  const known = cache.get(key);
  if (known) return known;
  // The channel's own authority is the service name (the resolver's default); verification follows
  // the configured name instead. rejectUnauthorized is set rather than left to Node's default, which
  // NODE_TLS_REJECT_UNAUTHORIZED=0 turns off (grpc-js refuses an unauthorised socket either way).
  const creds = credentials.createSsl(caPem ? Buffer.from(caPem) : null, null, null, {
    rejectUnauthorized: true,
    checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(serverName, cert),
  });
  cache.set(key, creds);
  return creds;
}

// One per CA and name: a replaced channel reuses them (grpc-js builds its secure context once per credentials).
const cache = new Map<string, ChannelCredentials>();
