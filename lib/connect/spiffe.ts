/** SPIFFE identities of Consul Connect services (pure). */

/** The parts of a Consul service identity `spiffe://<trust-domain>/ns/<ns>/dc/<dc>/svc/<service>`. */
export interface ServiceIdentity {
  trustDomain: string;
  namespace: string;
  datacenter: string;
  service: string;
}

const SERVICE_URI = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/dc\/([^/]+)\/svc\/([^/]+)$/;

/** Parses a Consul service SPIFFE URI; undefined for anything else (agents, malformed). */
export function parseServiceUri(uri: string): ServiceIdentity | undefined {
  const m = SERVICE_URI.exec(uri);
  if (!m) return undefined;
  const [, trustDomain = '', namespace = '', datacenter = '', service = ''] = m;
  return { trustDomain, namespace, datacenter, service };
}

/** The `URI:` entries of a certificate's `subjectaltname` string as Node's TLS reports it. */
export function uriSans(subjectaltname: string | undefined): string[] {
  if (!subjectaltname) return [];
  return subjectaltname
    .split(/,\s*/)
    .filter((e) => e.startsWith('URI:'))
    .map((e) => e.slice('URI:'.length));
}

/**
 * Why a peer certificate does not prove `service` in `trustDomain` (namespace default, any datacenter),
 * or undefined when one URI SAN does. Trust domains compare case-insensitively, as Consul's do.
 */
export function serviceIdentityMismatch(subjectaltname: string | undefined, trustDomain: string, service: string): string | undefined {
  const uris = uriSans(subjectaltname);
  const ok = uris.some((u) => {
    const id = parseServiceUri(u);
    return (
      id !== undefined && id.trustDomain.toLowerCase() === trustDomain.toLowerCase() && id.namespace === 'default' && id.service === service
    );
  });
  return ok
    ? undefined
    : `peer certificate is not a Connect identity of ${service} in ${trustDomain} (URI SANs: ${uris.join(', ') || 'none'})`;
}

/** Consul's serial format (colon-separated hex pairs) for a Node `serialNumber` (plain hex). */
export function consulSerial(serialNumber: string): string {
  const hex = serialNumber.length % 2 ? `0${serialNumber}` : serialNumber;
  return (hex.match(/../g) ?? []).join(':').toLowerCase();
}
