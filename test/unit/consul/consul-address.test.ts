import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { consulAddressUrl, parseConsulAddress, parseConsulAddresses } from '../../../lib/consul/consul-address';
import { ConsulAddressError } from '../../../lib/consul/errors';

describe('parseConsulAddress', () => {
  it('reads host:port', () => assert.deepEqual(parseConsulAddress('127.0.0.1:8501'), { host: '127.0.0.1', port: 8501, secure: false }));
  it('reads URLs and defaults the port', () => {
    assert.deepEqual(parseConsulAddress('https://consul.internal'), { host: 'consul.internal', port: 443, secure: true });
    assert.deepEqual(parseConsulAddress('http://consul'), { host: 'consul', port: 8500, secure: false });
  });
  it('unwraps IPv6 brackets', () => assert.equal(parseConsulAddress('[::1]:8500').host, '::1'));
  it('rejects empty input and other schemes', () => {
    assert.throws(() => parseConsulAddress(' '), /empty/);
    assert.throws(() => parseConsulAddress('ftp://x:1'), /scheme/);
  });
});

describe('parseConsulAddresses', () => {
  it('reads one address as a list of one', () => {
    assert.deepEqual(parseConsulAddresses('127.0.0.1:8500'), [{ host: '127.0.0.1', port: 8500, secure: false }]);
  });

  it('reads a comma-separated list in order, ignoring blanks around and between entries', () => {
    assert.deepEqual(parseConsulAddresses(' 10.0.0.1:8500, http://consul-b ,,[::1]:8501 '), [
      { host: '10.0.0.1', port: 8500, secure: false },
      { host: 'consul-b', port: 8500, secure: false },
      { host: '::1', port: 8501, secure: false },
    ]);
    assert.deepEqual(parseConsulAddresses('https://consul-a:8501,https://[::1]:8501'), [
      { host: 'consul-a', port: 8501, secure: true },
      { host: '::1', port: 8501, secure: true },
    ]);
  });

  it('refuses a list that mixes https and http, so a failover never drops TLS', () => {
    for (const raw of ['https://consul-a:8501,consul-b:8500', 'http://consul-a:8500,https://consul-b:8501']) {
      assert.throws(
        () => parseConsulAddresses(raw),
        (err: unknown) => err instanceof ConsulAddressError && /mixes https and http/.test(err.message),
      );
    }
  });

  it('rejects an empty list and a bad entry, as ConsulAddressError', () => {
    for (const raw of ['', ' , ', '10.0.0.1:8500,ftp://x:1']) {
      assert.throws(
        () => parseConsulAddresses(raw),
        (err: unknown) => err instanceof ConsulAddressError && err.kind === 'invalid_address',
      );
    }
  });
});

describe('consulAddressUrl', () => {
  it('writes scheme, host and port, bracketing IPv6 hosts', () => {
    assert.equal(consulAddressUrl({ host: '10.0.0.1', port: 8500, secure: false }), 'http://10.0.0.1:8500');
    assert.equal(consulAddressUrl({ host: 'consul', port: 443, secure: true }), 'https://consul:443');
    assert.equal(consulAddressUrl({ host: '::1', port: 8500, secure: false }), 'http://[::1]:8500');
  });

  it('round-trips with parseConsulAddress', () => {
    for (const raw of ['http://10.0.0.1:8500', 'https://consul:8501', 'http://[fd00::1]:8500'])
      assert.equal(consulAddressUrl(parseConsulAddress(raw)), raw);
  });
});

describe('addresses with TLS configured (the CONSUL_HTTP_SSL=true convention, failing closed on http://)', () => {
  it('reads a bare host:port as https, port 8500 when none is given', () => {
    assert.deepEqual(parseConsulAddress('127.0.0.1:8501', { tls: true }), { host: '127.0.0.1', port: 8501, secure: true });
    assert.deepEqual(parseConsulAddress('consul.internal', { tls: true }), { host: 'consul.internal', port: 8500, secure: true });
    assert.deepEqual(parseConsulAddresses('10.0.0.1:8501,https://[::1]:8501', { tls: true }), [
      { host: '10.0.0.1', port: 8501, secure: true },
      { host: '::1', port: 8501, secure: true },
    ]);
  });

  it('refuses an explicit http:// entry (the CLI would upgrade it silently), naming host and port, not user-info', () => {
    for (const raw of ['http://10.0.0.1:8500', 'https://a:8501,http://user:secret@b:8500', 'HTTP://c:8500']) {
      assert.throws(
        () => parseConsulAddresses(raw, { tls: true }),
        (err: unknown) =>
          err instanceof ConsulAddressError && /is http:\/\/ but TLS settings are present/.test(err.message) && !/secret/.test(err.message),
      );
    }
  });
});
