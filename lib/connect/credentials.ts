/**
 * grpc-js credentials from a ConnectCertificates watch. grpc-js (1.14) rebuilds its TLS context from a
 * certificate provider on every update, so a renewed leaf or a CA rotation applies to new connections
 * on both sides without a restart or a new channel.
 */
import type { PeerCertificate } from 'node:tls';
import { experimental, type ChannelCredentials, type ServerCredentials } from '@grpc/grpc-js';
import type { ConnectCertificates, ConnectMaterial } from './connect-certificates';
import { serviceIdentityMismatch } from './spiffe';

type CaListener = Parameters<experimental.CertificateProvider['addCaCertificateListener']>[0];
type IdListener = Parameters<experimental.CertificateProvider['addIdentityCertificateListener']>[0];

/** A grpc-js certificate provider fed by `certs` (roots as CA, the leaf as identity). */
export function connectCertificateProvider(certs: ConnectCertificates): experimental.CertificateProvider {
  const ca = new Set<CaListener>();
  const id = new Set<IdListener>();
  const caUpdate = (m: ConnectMaterial) => ({ caCertificate: Buffer.from(m.rootsPem) });
  const idUpdate = (m: ConnectMaterial) => ({ certificate: Buffer.from(m.certPem), privateKey: Buffer.from(m.keyPem) });
  certs.onChange((m) => {
    for (const l of ca) l(caUpdate(m));
    for (const l of id) l(idUpdate(m));
  });
  // The current material goes to a new listener on the next tick, not at once: grpc-js 1.14.7 subscribes
  // to the provider before it adds the server's own watcher, so a synchronous first update would be lost
  // and the server would drop every connection until the next rotation.
  const later = (fn: () => void) => process.nextTick(fn);
  return {
    addCaCertificateListener(l) {
      ca.add(l);
      later(() => {
        const m = certs.current();
        if (m && ca.has(l)) l(caUpdate(m));
      });
    },
    removeCaCertificateListener: (l) => ca.delete(l),
    addIdentityCertificateListener(l) {
      id.add(l);
      later(() => {
        const m = certs.current();
        if (m && id.has(l)) l(idUpdate(m));
      });
    },
    removeIdentityCertificateListener: (l) => id.delete(l),
  };
}

/**
 * Channel credentials that present the leaf of `certs` and accept a server only if its chain verifies
 * against the Connect roots and one of its URI SANs names `service` in the trust domain (any datacenter,
 * namespace default); the hostname is not checked.
 */
export function connectChannelCredentials(certs: ConnectCertificates, service: string): ChannelCredentials {
  // One per watch and service: a replaced channel reuses it rather than subscribing to the watch again.
  let byService = channelCredentials.get(certs);
  if (!byService) channelCredentials.set(certs, (byService = new Map()));
  const known = byService.get(service);
  if (known) return known;
  const provider = connectCertificateProvider(certs);
  // rejectUnauthorized set, not left to Node's default (which NODE_TLS_REJECT_UNAUTHORIZED=0 turns off).
  const creds = experimental.createCertificateProviderChannelCredentials(provider, provider, {
    rejectUnauthorized: true,
    checkServerIdentity: (_host: string, cert: PeerCertificate) => {
      const trustDomain = certs.current()?.trustDomain;
      const why = trustDomain ? serviceIdentityMismatch(cert.subjectaltname, trustDomain, service) : 'no Connect roots yet';
      return why ? new Error(why) : undefined;
    },
  });
  byService.set(service, creds);
  return creds;
}

const channelCredentials = new WeakMap<ConnectCertificates, Map<string, ChannelCredentials>>();

/** Server credentials that present the leaf of `certs` and require client certificates verified against the roots. */
export function connectServerCredentials(certs: ConnectCertificates): ServerCredentials {
  const provider = connectCertificateProvider(certs);
  return experimental.createCertificateProviderServerCredentials(provider, provider, true);
}
