/**
 * Pure rules for the names the DNS source asks Consul's DNS interface, and for
 * reading the SRV targets it answers with.
 *
 * Two spellings find the same service: Consul's own `[<tag>.]<service>.service[.<dc>].consul`
 * and RFC 2782's `_<service>._<tag>.service[.<dc>].consul` (where the tag `tcp` means "no tag").
 * The source sends Consul's spelling by default: every tag can be asked (RFC 2782 cannot ask
 * for a tag named `tcp`), and it is the spelling Consul documents first. Connect has only
 * `<service>.connect[.<dc>].consul`, which takes no tag.
 */
import { DnsLookupError } from './srv-errors';
import type { ServiceQuery } from './service-query';

/** Which spelling of a service lookup to send (see the file comment). */
export type SrvNameStyle = 'consul' | 'rfc2782';

/** Consul's default DNS domain. */
export const CONSUL_DNS_DOMAIN = 'consul';

// One DNS label: what Consul can serve (its docs ask for DNS-compatible service names and tags).
const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

function label(value: string, what: string): string {
  if (!LABEL.test(value))
    throw new DnsLookupError('invalid_name', `${what} ${JSON.stringify(value)} is not a DNS label, so Consul DNS cannot be asked for it`);
  return value;
}

/** The SRV name for `query` in `style` under `domain`; throws DnsLookupError('invalid_name') when it cannot be spelled. */
export function srvName(query: ServiceQuery, style: SrvNameStyle = 'consul', domain = CONSUL_DNS_DOMAIN): string {
  const service = label(query.service, 'service');
  const dc = query.datacenter ? `.${label(query.datacenter, 'datacenter')}` : '';
  if (query.connect) {
    // Consul's DNS has no tag filter for Connect lookups; serving untagged instances would route wrong.
    if (query.tag)
      throw new DnsLookupError(
        'invalid_name',
        `Consul DNS cannot filter Connect instances of ${service} by tag ${JSON.stringify(query.tag)}`,
      );
    return `${service}.connect${dc}.${domain}`;
  }
  if (style === 'rfc2782') {
    if (query.tag === 'tcp')
      throw new DnsLookupError('invalid_name', 'the RFC 2782 form reads the tag "tcp" as "no tag"; ask for it with the consul style');
    return `_${service}._${query.tag ? label(query.tag, 'tag') : 'tcp'}.service${dc}.${domain}`;
  }
  return `${query.tag ? `${label(query.tag, 'tag')}.` : ''}${service}.service${dc}.${domain}`;
}

/**
 * The node an SRV target names: `<node>.node[.<dc>].<domain>` gives the node's name; an
 * `<hex ip>.addr[.<dc>].<domain>` target (a service with its own address) names no node, so
 * the target itself stands for it.
 */
export function nodeOfTarget(target: string): string {
  const name = target.replace(/\.$/, '');
  const m = /^(.+?)\.node\./.exec(name);
  return m?.[1] ?? name;
}
