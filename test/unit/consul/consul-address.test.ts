import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConsulAddress } from '../../../lib/consul/consul-address';

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
