import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAddressPolicy, type AddressPolicyOptions } from '../../../lib/registry/address-policy';

const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fd00::/8'];

function verdict(address: string, opts: Partial<AddressPolicyOptions> = {}) {
  return createAddressPolicy({ allowedCidrs: PRIVATE, ...opts }).check(address);
}

function denied(address: string, reason: RegExp, opts: Partial<AddressPolicyOptions> = {}) {
  const v = verdict(address, opts);
  assert.equal(v.ok, false, `${address} should be denied`);
  if (!v.ok) assert.match(v.reason, reason);
}

describe('createAddressPolicy', () => {
  it('accepts literal addresses inside an allowed CIDR and reports their family', () => {
    assert.deepEqual(verdict('10.1.2.3'), { ok: true, family: 4, address: '10.1.2.3' });
    assert.deepEqual(verdict('192.168.255.255'), { ok: true, family: 4, address: '192.168.255.255' });
    assert.deepEqual(verdict('fd12:3456::1'), { ok: true, family: 6, address: 'fd12:3456::1' });
  });

  it('returns IPv6 addresses in canonical form', () => {
    assert.deepEqual(verdict('FD12:3456:0:0:0:0:0:0001'), { ok: true, family: 6, address: 'fd12:3456::1' });
  });

  it('treats an IPv4-mapped IPv6 address as its IPv4 address', () => {
    assert.deepEqual(verdict('::ffff:10.1.2.3'), { ok: true, family: 4, address: '10.1.2.3' });
    assert.deepEqual(verdict('::ffff:a01:203'), { ok: true, family: 4, address: '10.1.2.3' });
  });

  it('rejects hostnames and anything else that is not a literal address', () => {
    for (const a of ['example.com', 'localhost', '10.1.2', '010.1.2.3', ' 10.1.2.3', '[fd00::1]', '10.1.2.3:80', ''])
      denied(a, /literal IPv4 or IPv6 address/);
  });

  it('rejects IPv6 zone ids', () => {
    denied('fd00::1%eth0', /zone/);
  });

  it('rejects addresses outside every allowed CIDR', () => {
    denied('8.8.8.8', /not inside any allowed CIDR/);
    denied('172.32.0.1', /not inside any allowed CIDR/);
    denied('2001:db8::1', /not inside any allowed CIDR/);
    denied('10.1.2.3', /not inside any allowed CIDR/, { allowedCidrs: [] });
  });

  it('denies loopback unless allowed, even inside an allowed CIDR', () => {
    const opts = { allowedCidrs: ['0.0.0.0/0', '::/0'] };
    denied('127.0.0.1', /loopback/, opts);
    denied('127.255.0.9', /loopback/, opts);
    denied('::1', /loopback/, opts);
    denied('::ffff:127.0.0.1', /loopback/, opts);
    denied('::ffff:7f00:1', /loopback/, opts);
    assert.deepEqual(verdict('::ffff:127.0.0.1', { ...opts, allowLoopback: true }), { ok: true, family: 4, address: '127.0.0.1' });
    assert.equal(verdict('::1', { ...opts, allowLoopback: true }).ok, true);
  });

  it('still needs an allowed CIDR when loopback is allowed', () => {
    denied('127.0.0.1', /not inside any allowed CIDR/, { allowLoopback: true });
  });

  // Security review: "allowLoopback=true, yet ::1 is refused". allowLoopback only lifts the loopback
  // ban; the address must still be inside allowedCidrs, for 127.0.0.0/8 and ::1 alike. These pin that
  // the two families get the same verdict under every combination, in every spelling of ::1.
  const V6_LOOPBACK = ['::1', '0:0:0:0:0:0:0:1', '0::1', '::0:1', '0000:0000:0000:0000:0000:0000:0000:0001', '::0.0.0.1'];
  for (const [label, allowedCidrs] of [
    ['both loopback ranges', ['127.0.0.0/8', '::1/128']],
    ['everything', ['0.0.0.0/0', '::/0']],
    ['private ranges only', PRIVATE],
  ] as const) {
    it(`gives 127.0.0.1 and every spelling of ::1 the same verdict, allowed CIDRs: ${label}`, () => {
      for (const allowLoopback of [false, true]) {
        const opts = { allowedCidrs: [...allowedCidrs], allowLoopback };
        const v4 = verdict('127.0.0.1', opts);
        for (const a of V6_LOOPBACK) {
          const v6 = verdict(a, opts);
          assert.equal(v6.ok, v4.ok, `${a} vs 127.0.0.1 with ${JSON.stringify(opts)}`);
          if (v6.ok) assert.deepEqual(v6, { ok: true, family: 6, address: '::1' });
          if (!v6.ok && !v4.ok) assert.equal(v6.reason.replace('::1/128', '127.0.0.0/8'), v4.reason, `${a} is refused for the same reason`);
        }
      }
    });
  }

  it('accepts ::1 with allowLoopback once ::1/128 is listed, as 127.0.0.1 once 127.0.0.0/8 is', () => {
    const opts = { allowedCidrs: ['127.0.0.0/8', '::1/128', ...PRIVATE], allowLoopback: true };
    assert.deepEqual(verdict('::1', opts), { ok: true, family: 6, address: '::1' });
    assert.deepEqual(verdict('127.0.0.1', opts), { ok: true, family: 4, address: '127.0.0.1' });
    denied('::1', /loopback/, { ...opts, allowLoopback: false });
  });

  it('says how to admit a loopback address that allowLoopback allows but no allowed CIDR covers', () => {
    // The local stack lists 127.0.0.0/8 only: ::1 is refused, and the reason must say why.
    const opts = { allowedCidrs: ['127.0.0.0/8', ...PRIVATE], allowLoopback: true };
    denied('::1', /^not inside any allowed CIDR \(allowLoopback lifts only the loopback ban: add ::1\/128 to allowedCidrs\)$/, opts);
    denied(
      '127.0.0.1',
      /^not inside any allowed CIDR \(allowLoopback lifts only the loopback ban: add 127\.0\.0\.0\/8 to allowedCidrs\)$/,
      { allowLoopback: true },
    );
    // An ordinary address gets no such hint.
    denied('8.8.8.8', /^not inside any allowed CIDR$/, opts);
  });

  it('denies link-local unless allowed, even inside an allowed CIDR', () => {
    const opts = { allowedCidrs: ['169.254.0.0/16', 'fe80::/10'] };
    denied('169.254.1.1', /link-local/, opts);
    denied('fe80::1', /link-local/, opts);
    denied('::ffff:169.254.1.1', /link-local/, opts);
    assert.equal(verdict('169.254.1.1', { ...opts, allowLinkLocal: true }).ok, true);
    assert.equal(verdict('fe80::1', { ...opts, allowLinkLocal: true }).ok, true);
  });

  it('denies 169.254.169.254 inside an allowed 169.254.0.0/16 unless allowMetadata, whatever allowLinkLocal says', () => {
    const opts = { allowedCidrs: ['169.254.0.0/16', 'fd00::/8'] };
    denied('169.254.169.254', /instance-metadata/, opts);
    denied('169.254.169.254', /instance-metadata/, { ...opts, allowLinkLocal: true });
    denied('::ffff:169.254.169.254', /instance-metadata/, { ...opts, allowLinkLocal: true });
    denied('fd00:ec2::254', /instance-metadata/, opts);
    denied('fd00:ec2:0:0:0:0:0:254', /instance-metadata/, opts);
    assert.equal(verdict('169.254.169.254', { ...opts, allowMetadata: true }).ok, true);
    assert.equal(verdict('fd00:ec2::254', { ...opts, allowMetadata: true }).ok, true);
  });

  it('always denies unspecified, multicast and broadcast addresses', () => {
    const all = { allowedCidrs: ['0.0.0.0/0', '::/0'], allowLoopback: true, allowLinkLocal: true, allowMetadata: true };
    for (const a of ['0.0.0.0', '0.1.2.3', '::', '::ffff:0.0.0.0']) denied(a, /unspecified/, all);
    for (const a of ['224.0.0.1', '239.255.255.250', 'ff02::1', '::ffff:224.0.0.1']) denied(a, /multicast/, all);
    denied('255.255.255.255', /broadcast/, all);
  });

  it('throws a clear error naming a malformed CIDR at creation', () => {
    for (const cidr of ['10.0.0.0', '10.0.0.0/33', 'fd00::/129', 'example.com/8', '10.0.0/8', '10.0.0.0/-1', '10.0.0.0/8/8', '']) {
      assert.throws(
        () => createAddressPolicy({ allowedCidrs: [cidr] }),
        (err: unknown) => err instanceof Error && err.message.includes(JSON.stringify(cidr)) && /invalid CIDR/.test(err.message),
      );
    }
  });

  it('accepts CIDRs with surrounding spaces and host bits set', () => {
    assert.equal(createAddressPolicy({ allowedCidrs: [' 10.1.0.0/16 '] }).check('10.1.9.9').ok, true);
    assert.equal(createAddressPolicy({ allowedCidrs: ['10.1.2.3/16'] }).check('10.1.9.9').ok, true);
  });
});
