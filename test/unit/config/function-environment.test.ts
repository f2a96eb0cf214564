import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../../lib/config/errors';
import {
  consulTlsConfigured,
  DEFAULT_CONSUL_TLS_SERVER_NAME,
  readFunctionEnvironment,
  resolveConsulTls,
} from '../../../lib/config/environment';
import type { SecretResolver } from '../../../lib/config/secrets';

const TOKEN = 'f2b6c1de-0000-4000-8000-123456789abc';
const read = (env: Record<string, string>) => readFunctionEnvironment({ CONSUL_HTTP_TOKEN: TOKEN, ...env });
const refused = (env: Record<string, string>, why: RegExp) =>
  assert.throws(
    () => read(env),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.kind === 'invalid_environment' &&
      /CONSUL_HTTP_ADDR|CONSUL_HTTP_SSL/.test(err.message) &&
      why.test(err.message) &&
      !err.message.includes(TOKEN),
  );

describe('CONSUL_HTTP_ADDR once a TLS setting is present (fail closed)', () => {
  const tlsSettings: Record<string, string>[] = [
    { CONSUL_CACERT: '/ca.pem' },
    { CONSUL_CACERT_PARAMETER: '/app/ca' },
    { CONSUL_CLIENT_CERT: '/c.pem', CONSUL_CLIENT_KEY: '/k.pem' },
    { CONSUL_CLIENT_CERT_PARAMETER: '/app/cert', CONSUL_CLIENT_KEY_PARAMETER: '/app/key' },
    { CONSUL_TLS_SERVER_NAME: 'server.dc2.consul' },
    { CONSUL_HTTP_SSL: 'true' },
  ];

  for (const tls of tlsSettings) {
    const names = Object.keys(tls).join(', ');
    it(`with ${names}: http:// is a ConfigError naming CONSUL_HTTP_ADDR and the setting, never the token`, () => {
      refused(
        { ...tls, CONSUL_HTTP_ADDR: 'http://127.0.0.1:8500' },
        new RegExp(
          `is http:// but TLS settings are present.*TLS is on: ${names === 'CONSUL_HTTP_SSL' ? 'CONSUL_HTTP_SSL=true' : Object.keys(tls)[0]}`,
        ),
      );
    });

    it(`with ${names}: a bare host:port (and the default address) means https`, () => {
      assert.equal(read({ ...tls, CONSUL_HTTP_ADDR: '10.0.0.1:8501' }).consulAddress, 'https://10.0.0.1:8501');
      assert.equal(
        read({ ...tls, CONSUL_HTTP_ADDR: '10.0.0.1:8501, https://10.0.0.2:8501' }).consulAddress,
        'https://10.0.0.1:8501,https://10.0.0.2:8501',
      );
      assert.equal(read(tls).consulAddress, 'https://127.0.0.1:8500');
    });
  }

  it('a mixed list is refused with TLS settings and without', () => {
    refused({ CONSUL_CACERT: '/ca.pem', CONSUL_HTTP_ADDR: 'https://a:8501,http://b:8500' }, /is http:\/\//);
    refused({ CONSUL_HTTP_ADDR: 'https://a:8501,b:8500' }, /mixes https and http/);
  });

  it('CONSUL_HTTP_SSL=false beside a TLS setting is a contradiction, refused', () => {
    refused({ CONSUL_HTTP_SSL: 'false', CONSUL_CACERT: '/ca.pem' }, /false contradicts CONSUL_CACERT/);
    refused({ CONSUL_HTTP_SSL: 'maybe' }, /must be 'true' or 'false'/);
  });

  it('with no TLS setting a bare address stays plain http, as before (empty values count as unset)', () => {
    const env = read({
      CONSUL_HTTP_ADDR: '10.0.0.1:8500',
      CONSUL_CACERT: '',
      CONSUL_CACERT_PARAMETER: '',
      CONSUL_TLS_SERVER_NAME: '',
      CONSUL_HTTP_SSL: '',
    });
    assert.equal(env.consulAddress, '10.0.0.1:8500');
    assert.equal(env.consulTls, undefined);
  });
});

describe('the name the agent certificate must carry', () => {
  it(`defaults to ${DEFAULT_CONSUL_TLS_SERVER_NAME}, not the address's host, and CONSUL_TLS_SERVER_NAME overrides it`, () => {
    assert.equal(read({ CONSUL_CACERT: '/ca.pem', CONSUL_HTTP_ADDR: '127.0.0.1:8501' }).consulTls?.serverName, 'server.dc1.consul');
    assert.equal(read({ CONSUL_CACERT_PARAMETER: '/app/ca' }).consulTls?.serverName, 'server.dc1.consul');
    assert.equal(
      read({ CONSUL_CACERT: '/ca.pem', CONSUL_TLS_SERVER_NAME: 'server.eu-west.consul' }).consulTls?.serverName,
      'server.eu-west.consul',
    );
  });

  it("without a CA (Node's public roots: CONSUL_HTTP_SSL=true, or only a client certificate) the address's host is checked", () => {
    assert.equal(read({ CONSUL_HTTP_SSL: 'true', CONSUL_HTTP_ADDR: 'consul.example.com:443' }).consulTls?.serverName, undefined);
    assert.equal(read({ CONSUL_CLIENT_CERT: '/c.pem', CONSUL_CLIENT_KEY: '/k.pem' }).consulTls?.serverName, undefined);
  });

  it('reaches the TLS material handed to the Consul client, also when the PEMs come from SSM', async () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const secrets: SecretResolver = {
      resolve: (name: string) => Promise.resolve(name === 'CONSUL_CACERT' ? pem : undefined),
    } as unknown as SecretResolver;
    const tls = await resolveConsulTls(read({ CONSUL_CACERT_PARAMETER: '/app/ca' }).consulTls, secrets);
    assert.deepEqual(tls, { ca: pem, serverName: 'server.dc1.consul' });
  });
});

describe('consulTlsConfigured (for processes that read CONSUL_HTTP_ADDR themselves, like the Greeter backend)', () => {
  it('is true for any TLS variable or _PARAMETER and CONSUL_HTTP_SSL=true, false for blanks and CONSUL_HTTP_SSL=false', () => {
    for (const env of [
      { CONSUL_CACERT: '/ca.pem' },
      { CONSUL_CLIENT_KEY_PARAMETER: '/p' },
      { CONSUL_TLS_SERVER_NAME: 'server.dc1.consul' },
      { CONSUL_HTTP_SSL: 'TRUE' },
      { CONSUL_HTTP_SSL: '1' },
    ]) {
      assert.equal(consulTlsConfigured(env), true, JSON.stringify(env));
    }
    for (const env of [{}, { CONSUL_CACERT: ' ' }, { CONSUL_HTTP_SSL: 'false' }, { CONSUL_HTTP_SSL: '0' }])
      assert.equal(consulTlsConfigured(env), false, JSON.stringify(env));
  });
});
