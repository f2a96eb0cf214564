/**
 * Which addresses a workload may register. Anything registered here is dialled
 * by gateways and probes inside the network, so an address is a way to aim
 * them at a target: only literal IPs inside the configured CIDRs pass, and the
 * special-purpose ranges (loopback, link-local, instance metadata) need an
 * explicit opt-in even when an allowed CIDR covers them.
 *
 * An opt-in only lifts its ban; it never adds a range. So `allowLoopback` admits
 * 127.0.0.0/8 and ::1 (any spelling) alike, and each only when `allowedCidrs`
 * also covers it: list `127.0.0.0/8,::1/128` for both families.
 */
import { BlockList, isIP, SocketAddress } from 'node:net';
import { ConfigError } from '../config/errors';

/** What the deployment allows; every special-purpose range is off unless set. */
export interface AddressPolicyOptions {
  allowedCidrs: string[];
  allowLoopback?: boolean;
  allowLinkLocal?: boolean;
  allowMetadata?: boolean;
}

/** The verdict on one address; `address` is its canonical form (IPv4-mapped IPv6 becomes IPv4). */
export type AddressCheck = { ok: true; family: 4 | 6; address: string } | { ok: false; reason: string };

/** A compiled policy, built once per config. */
export interface AddressPolicy {
  check(address: string): AddressCheck;
}

type Subnet = { network: string; prefix: number; family: 4 | 6 };

function blockList(subnets: readonly Subnet[]): BlockList {
  const list = new BlockList();
  for (const s of subnets) list.addSubnet(s.network, s.prefix, s.family === 4 ? 'ipv4' : 'ipv6');
  return list;
}

function ranges(...cidrs: string[]): BlockList {
  return blockList(cidrs.map(parseCidr));
}

// 0.0.0.0/8 as a whole, not just 0.0.0.0: Linux connects 0.0.0.0 to the local host.
const UNSPECIFIED = ranges('0.0.0.0/8', '::/128');
const MULTICAST = ranges('224.0.0.0/4', 'ff00::/8');
const BROADCAST = ranges('255.255.255.255/32');
// AWS's IMDS on IPv4 and on Nitro's IPv6 endpoint: credentials live behind these.
const METADATA = ranges('169.254.169.254/32', 'fd00:ec2::254/128');
const LOOPBACK = ranges('127.0.0.0/8', '::1/128');
// What to add to allowedCidrs when allowLoopback is on but no CIDR covers the address.
const LOOPBACK_CIDR = { 4: '127.0.0.0/8', 6: '::1/128' } as const;
const LINK_LOCAL = ranges('169.254.0.0/16', 'fe80::/10');

// Throws naming the entry, so a bad config value is easy to find.
function parseCidr(cidr: string): Subnet {
  const match = /^([0-9A-Fa-f:.]+)\/(\d{1,3})$/.exec(cidr.trim());
  const family = match ? isIP(match[1]) : 0;
  const prefix = match ? Number(match[2]) : NaN;
  if (!match || (family !== 4 && family !== 6) || prefix > (family === 4 ? 32 : 128)) {
    throw new ConfigError(
      'invalid_config',
      `invalid CIDR ${JSON.stringify(cidr)} in allowedCidrs: expected an IPv4 or IPv6 network such as 10.0.0.0/8 or fd00::/8`,
    );
  }
  return { network: match[1], prefix, family };
}

// Canonical text, so the address registered is exactly the one checked and
// `::ffff:127.0.0.1`, `::ffff:7f00:1` and `127.0.0.1` are one address to every rule.
function canonical(address: string, family: 4 | 6): { address: string; family: 4 | 6 } {
  if (family === 4) return { address, family };
  const text = new SocketAddress({ address, family: 'ipv6' }).address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  return mapped ? { address: mapped[1], family: 4 } : { address: text, family: 6 };
}

/** Compiles the options; throws on a malformed CIDR so a bad config fails at load, not per request. */
export function createAddressPolicy(opts: AddressPolicyOptions): AddressPolicy {
  const allowed = blockList(opts.allowedCidrs.map(parseCidr));
  const deny = (reason: string): AddressCheck => ({ ok: false, reason });
  return {
    check(raw) {
      const rawFamily = typeof raw === 'string' ? isIP(raw) : 0;
      if (rawFamily !== 4 && rawFamily !== 6) return deny('must be a literal IPv4 or IPv6 address, not a hostname');
      // A zone names an interface of the registering host, meaningless to whoever dials it.
      if (raw.includes('%')) return deny('must not carry an IPv6 zone id (%...)');
      const { address, family } = canonical(raw, rawFamily);
      const type = family === 4 ? 'ipv4' : 'ipv6';
      const within = (list: BlockList) => list.check(address, type);
      if (within(UNSPECIFIED)) return deny('unspecified addresses (0.0.0.0/8, ::) are never allowed');
      if (within(MULTICAST)) return deny('multicast addresses are never allowed');
      if (within(BROADCAST)) return deny('the broadcast address is never allowed');
      let hint = '';
      // The metadata rule is the specific one: allowLinkLocal alone never opens it.
      if (within(METADATA)) {
        if (!opts.allowMetadata) return deny('the instance-metadata address is not allowed');
      } else if (within(LOOPBACK)) {
        if (!opts.allowLoopback) return deny('loopback addresses are not allowed');
        // A local stack listing only 127.0.0.0/8 refuses ::1: say so rather than look like a bug.
        hint = ` (allowLoopback lifts only the loopback ban: add ${LOOPBACK_CIDR[family]} to allowedCidrs)`;
      } else if (within(LINK_LOCAL)) {
        if (!opts.allowLinkLocal) return deny('link-local addresses are not allowed');
      }
      if (!within(allowed)) return deny(`not inside any allowed CIDR${hint}`);
      return { ok: true, family, address };
    },
  };
}
