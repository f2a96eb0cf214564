// greeterTransport=tls: the greet function (in-process, as Lambda calls it) reaches Greeter backends
// outside the mesh over TLS, verifying them against a CA of their own (made with Consul's CLI) and
// one server name, on a real Consul dev agent whose gRPC checks speak TLS to them.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { runtime as greetRuntime } from '../../functions/greet';
import { runtime as rpcRuntime } from '../../functions/rpc';
import { kvPut } from '../../lib/consul/kv';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { ensureGrpcurlBinary } from '../../scripts/grpcurl-binary';
import { startMoto, type MotoServer } from '../../scripts/stack/moto';
import { createGreeterTlsFiles, type GreeterTlsFiles } from '../../scripts/stack/consul-tls';
import {
  captureOutput,
  eventually,
  invokeGreet,
  passingIds,
  startTestStack,
  type TestStack,
  useFunctionEnvironment,
  useMotoSsm,
} from './harness';
import { callRpc, provisionRpcToken, RPC_PREFIX, useRpcEnvironment } from './rpc-support';

const greet = (name: string) => invokeGreet(name);

const NAME = 'greeter.service.consul';
let stack: TestStack;
let pki: GreeterTlsFiles;
let rogue: GreeterTlsFiles;
let tlsPort = 0;
let moto: MotoServer | undefined;
const SAVED_ENV = { ...process.env };

before(async () => {
  pki = createGreeterTlsFiles(NAME);
  // Same names, another CA: a backend the gateway must not trust.
  rogue = createGreeterTlsFiles(NAME);
  stack = await startTestStack('config/greeter-gateway/tls-backends/');
  await stack.setConfig({
    discoveryMinIntervalMs: '0',
    configMaxAgeSeconds: '0',
    coldStartWaitMs: '5000',
    greeterTransport: 'tls',
    greeterTag: 'tls',
  });
  tlsPort = (await stack.addGreeter({ id: 'tls-1', tags: ['tls'], tls: { certFile: pki.certFile, keyFile: pki.keyFile } })).port;
  await stack.addGreeter({ id: 'rogue-1', tags: ['rogue'], tls: { certFile: rogue.certFile, keyFile: rogue.keyFile } });
  await stack.addGreeter({ id: 'plain-1', tags: ['plain'] });
  // The agent's gRPC checks speak TLS to the TLS backends (and plaintext to the other).
  await eventually(async () => (await passingIds(stack.admin, 'greeter')).length === 3, 15_000, 'all three backends passing');
});
after(async () => {
  greetRuntime.reset();
  rpcRuntime.reset();
  for (const k of Object.keys(process.env)) if (!(k in SAVED_ENV)) delete process.env[k];
  Object.assign(process.env, SAVED_ENV);
  await moto?.stop();
  await stack?.stop();
  pki?.remove();
  rogue?.remove();
});
beforeEach(async () => {
  greetRuntime.reset();
  useFunctionEnvironment(stack);
  process.env.GREETER_CACERT = pki.caFile;
  await stack.setConfig({ greeterTag: 'tls', greeterTlsServerName: '' });
});

describe('greet over TLS to Greeters outside the mesh', () => {
  it('serves through the backend whose certificate chains to GREETER_CACERT and names greeter.service.consul', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await greet(`Ada${i}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.servedBy?.id, 'tls-1');
    }
  });

  it('refuses a backend whose certificate another CA signed, a plaintext backend, and a name the certificate does not carry', async () => {
    for (const [what, config, why] of [
      ['another CA', { greeterTag: 'rogue', greeterTlsServerName: '' }, /unable to verify the first certificate/],
      ['plaintext', { greeterTag: 'plain', greeterTlsServerName: '' }, /wrong version number/],
      ['wrong name', { greeterTag: 'tls', greeterTlsServerName: 'other.example' }, /Hostname\/IP does not match certificate's altnames/],
    ] as const) {
      greetRuntime.reset();
      await stack.setConfig(config);
      const { result: r, output } = await captureOutput(() => greet('Mallory'));
      assert.equal(r.status, 503, `${what}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error?.code, 'BACKEND_UNAVAILABLE', what);
      assert.match(output, why, `${what}: the log says why`);
      assert.doesNotMatch(output, /Hello, Mallory/);
    }
  });

  it('NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment does not turn verification off: another CA and a wrong name are still refused', async () => {
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    try {
      for (const [what, config] of [
        ['another CA', { greeterTag: 'rogue', greeterTlsServerName: '' }],
        ['wrong name', { greeterTag: 'tls', greeterTlsServerName: 'other.example' }],
      ] as const) {
        greetRuntime.reset();
        await stack.setConfig(config);
        const { result: r } = await captureOutput(() => greet('Mallory'));
        assert.equal(r.status, 503, `${what}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error?.code, 'BACKEND_UNAVAILABLE', what);
      }
    } finally {
      delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    }
  });

  it('reads the CA from the SSM parameter named by GREETER_CACERT_PARAMETER when no file is given', async () => {
    moto = await startMoto();
    useMotoSsm(moto.endpoint);
    const ssm = new SSMClient({});
    await ssm.send(
      new PutParameterCommand({
        Name: '/consul-grpc-lambda/test/tls/greeter-ca',
        Value: readFileSync(pki.caFile, 'utf8'),
        Type: 'SecureString',
      }),
    );
    ssm.destroy();
    delete process.env.GREETER_CACERT;
    process.env.GREETER_CACERT_PARAMETER = '/consul-grpc-lambda/test/tls/greeter-ca';
    try {
      const r = await greet('Grace');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.servedBy?.id, 'tls-1');
    } finally {
      delete process.env.GREETER_CACERT_PARAMETER;
    }
  });

  it('without GREETER_CACERT verifies against the default roots, which do not hold the private CA: no fallback to trusting anyone', async () => {
    delete process.env.GREETER_CACERT;
    const r = await greet('Eve');
    assert.equal(r.status, 503, JSON.stringify(r.body));
  });

  it('a GREETER_CACERT that holds no CA certificate is a 500 MISCONFIGURED whose log names the variable, not the value', async () => {
    const bad = join(pki.dir, 'not-a-ca.pem');
    writeFileSync(bad, 'secret-looking-text\n');
    process.env.GREETER_CACERT = bad;
    const { result: r, output } = await captureOutput(() => greet('Ada'));
    assert.equal(r.status, 500, JSON.stringify(r.body));
    assert.equal(r.body.error?.code, 'MISCONFIGURED');
    assert.match(output, /GREETER_CACERT \(file .*not-a-ca\.pem\) holds no PEM CA certificate/);
    assert.doesNotMatch(output, /secret-looking-text/);
  });

  it('grpcurl reaches the TLS backend with the CA and the server name, and is refused without them', async () => {
    const bin = ensureGrpcurlBinary((line) => console.error(line));
    const run = (flags: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          bin,
          [...flags, '-max-time', '10', '-d', '{"name":"grpcurl"}', `127.0.0.1:${tlsPort}`, 'helloworld.Greeter/SayHello'],
          { timeout: 20_000 },
          (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
        );
      });
    const ok = await run(['-cacert', pki.caFile, '-servername', NAME]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /Hello, grpcurl! \(from tls-1\)/);
    const untrusted = await run(['-cacert', rogue.caFile, '-servername', NAME]);
    assert.notEqual(untrusted.code, 0);
    assert.match(untrusted.stderr, /certificate/);
  });
});

// The rpc route reaches a `transport: tls` service through the same invoker and the same CA as greet.
describe('the rpc route over TLS to Greeters outside the mesh', () => {
  let rpcToken = '';
  const sayHello = (name: string) => callRpc('POST', '/rpc/helloworld.Greeter/SayHello', { body: { name } });
  const mapTo = (tag: string) =>
    kvPut(stack.admin, `${RPC_PREFIX}rpcServices`, JSON.stringify({ 'helloworld.Greeter': { service: 'greeter', tag, transport: 'tls' } }));

  before(async () => {
    rpcToken = await provisionRpcToken(stack.admin, ['greeter']);
    for (const [k, v] of Object.entries({ discoveryMinIntervalMs: '0', configMaxAgeSeconds: '0', coldStartWaitMs: '5000' }))
      await kvPut(stack.admin, `${RPC_PREFIX}${k}`, v);
  });
  beforeEach(() => {
    rpcRuntime.reset();
    useRpcEnvironment(stack.consul.address, rpcToken);
  });

  it('serves through the backend whose certificate chains to GREETER_CACERT, and refuses one another CA signed', async () => {
    await mapTo('tls');
    const r = await sayHello('Ada');
    assert.equal(r.status, 200, r.raw);
    assert.match((r.body as { message: string }).message, /Hello, Ada! \(from tls-1\)/);
    rpcRuntime.reset();
    await mapTo('rogue');
    const { result: refused, output } = await captureOutput(() => sayHello('Mallory'));
    assert.equal(refused.status, 503, refused.raw);
    assert.match(refused.raw, /BACKEND_UNAVAILABLE/);
    assert.doesNotMatch(output + refused.raw, /Hello, Mallory/);
  });

  it('without GREETER_CACERT verifies against the default roots, which do not hold the private CA', async () => {
    delete process.env.GREETER_CACERT;
    await mapTo('tls');
    const r = await sayHello('Eve');
    assert.equal(r.status, 503, r.raw);
  });
});
