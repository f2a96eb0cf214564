// The secret resolver's cheap paths: a value in the environment, and the Parameters and Secrets
// Lambda Extension's local endpoint (a loopback HTTP server speaking its protocol stands in for
// the extension, which exists only inside Lambda). Neither may load the AWS SDK. The SDK path
// itself runs against moto in test/integration/secrets-ssm.test.ts.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../../lib/config/errors';
import { createSecretResolver } from '../../../lib/config/secrets';

const sdkLoaded = () => Object.keys(require.cache).some((f) => f.includes('@aws-sdk/client-ssm'));

interface Answer {
  status: number;
  body: string;
}

let server: Server;
let port: number;
let answer: Answer = { status: 200, body: '{}' };
const seen: IncomingMessage[] = [];

before(async () => {
  server = createServer((req, res) => {
    seen.push(req);
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
  });
  await new Promise<void>((ok) => server.listen(0, 'localhost', ok));
  port = (server.address() as AddressInfo).port;
});

after(() => new Promise<void>((ok) => server.close(() => ok())));

const extensionEnv = (over: NodeJS.ProcessEnv = {}) => ({
  PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: String(port),
  AWS_SESSION_TOKEN: 'session-token',
  CONSUL_HTTP_TOKEN_PARAMETER: '/app/consul token',
  ...over,
});

describe('createSecretResolver', () => {
  it('returns the environment value first, and undefined when neither value nor parameter is set, without the SDK', async () => {
    const r = createSecretResolver({ CONSUL_HTTP_TOKEN: ' tok ', CONSUL_HTTP_TOKEN_PARAMETER: '/x' });
    assert.equal(await r.resolve('CONSUL_HTTP_TOKEN'), 'tok');
    assert.equal(await r.resolve('REGISTRY_SIGNING_KEY'), undefined);
    assert.equal(sdkLoaded(), false);
  });

  it('reads a parameter through the extension: decrypted, authenticated with the session token, without the SDK', async () => {
    seen.length = 0;
    answer = {
      status: 200,
      body: JSON.stringify({ Parameter: { Name: '/app/consul token', Type: 'SecureString', Value: 'from-extension' } }),
    };
    assert.equal(await createSecretResolver(extensionEnv()).resolve('CONSUL_HTTP_TOKEN'), 'from-extension');
    const req = seen[0];
    assert.ok(req);
    const url = new URL(req.url ?? '', 'http://localhost');
    assert.equal(url.pathname, '/systemsmanager/parameters/get');
    assert.equal(url.searchParams.get('name'), '/app/consul token');
    assert.equal(url.searchParams.get('withDecryption'), 'true');
    assert.equal(req.headers['x-aws-parameters-secrets-token'], 'session-token');
    assert.equal(sdkLoaded(), false);
  });

  it('answers a missing parameter with invalid_secret, naming the parameter', async () => {
    answer = { status: 400, body: 'ParameterNotFound: /app/consul token' };
    await assert.rejects(
      createSecretResolver(extensionEnv()).resolve('CONSUL_HTTP_TOKEN'),
      (err: unknown) => err instanceof ConfigError && err.kind === 'invalid_secret' && /\/app\/consul token/.test(err.message),
    );
  });

  it('answers other failures with secret_unavailable (may pass on retry)', async () => {
    answer = { status: 500, body: 'ThrottlingException' };
    await assert.rejects(
      createSecretResolver(extensionEnv()).resolve('CONSUL_HTTP_TOKEN'),
      (err: unknown) => err instanceof ConfigError && err.kind === 'secret_unavailable' && /HTTP 500/.test(err.message),
    );
  });

  it('fails with secret_unavailable when the extension is not listening', async () => {
    const closed = createServer();
    await new Promise<void>((ok) => closed.listen(0, 'localhost', ok));
    const freePort = (closed.address() as AddressInfo).port;
    await new Promise<void>((ok) => closed.close(() => ok()));
    await assert.rejects(
      createSecretResolver(extensionEnv({ PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: String(freePort) })).resolve('CONSUL_HTTP_TOKEN'),
      (err: unknown) => err instanceof ConfigError && err.kind === 'secret_unavailable',
    );
  });

  it('refuses an empty value with invalid_secret, and never puts a value in an error', async () => {
    answer = { status: 200, body: JSON.stringify({ Parameter: { Value: '' } }) };
    await assert.rejects(
      createSecretResolver(extensionEnv()).resolve('CONSUL_HTTP_TOKEN'),
      (err: unknown) => err instanceof ConfigError && err.kind === 'invalid_secret' && /is empty/.test(err.message),
    );
    answer = { status: 200, body: 'not json, secret-value' };
    await assert.rejects(
      createSecretResolver(extensionEnv()).resolve('CONSUL_HTTP_TOKEN'),
      (err: unknown) => err instanceof ConfigError && err.kind === 'secret_unavailable' && !err.message.includes('secret-value'),
    );
  });
});
