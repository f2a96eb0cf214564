// TLS to Consul: a real dev agent serving its API over HTTPS only (plain HTTP off) with
// verify_incoming on, its CA and server certificate made by Consul's own CLI, the functions'
// client certificate (clientAuth only, no names) by scripts/stack/function-cert.ts. The greet and
// status functions run in-process over https with the CA and that client certificate (from files,
// then from SSM in moto); a wrong CA or server name fails closed with one error line and a 503,
// an http:// address beside TLS settings is a 500 MISCONFIGURED before anything is sent, and a
// MITM holding the functions' own client certificate (or one from `consul tls cert create -client`)
// never sees a byte of a request.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { after, before, beforeEach, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import {
  CreateHttpNamespaceCommand,
  GetOperationCommand,
  ListInstancesCommand,
  ListServicesCommand,
} from '@aws-sdk/client-servicediscovery';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { runtime as greetRuntime } from '../../functions/greet';
import { handler as healthSyncHandler, runtime as healthSyncRuntime } from '../../functions/health-sync';
import { handler as instancesHandler, runtime as instancesRuntime } from '../../functions/instances';
import { handler as statusHandler, runtime as statusRuntime } from '../../functions/status';
import { createCloudMapClient } from '../../lib/cloudmap/cloudmap-client';
import { gatewayTokens, healthSyncToken, registryToken as makeRegistryToken } from '../../scripts/stack/tokens';
import { registerGrpcService } from '../../lib/consul/agent';
import { createConsulApi, type ConsulApi } from '../../lib/consul/consul-api';
import { startConsulAgent, type ConsulAgent } from '../../scripts/stack/consul-agent';
import { createConsulTlsFiles, type ConsulTlsFiles } from '../../scripts/stack/consul-tls';
import { ensureConsulBinary } from '../../scripts/consul-binary';
import { startGreeter, type GreeterBackend } from '../../scripts/stack/greeters';
import { HEALTH_SYNC_KEYS } from '../../lib/health-sync/health-sync-config';
import { REGISTRY_KEYS } from '../../lib/registry/registry-config';
import { startMoto, type MotoServer } from '../../scripts/stack/moto';
import { stopProcess } from '../../scripts/stack/processes';
import { putConfig, seedDefaultConfig } from '../../scripts/stack/seed-config';
import { captureOutput, eventually, httpEvent, invokeGreet, lambdaContext, PASSING_WAIT_MS, passingIds, useMotoSsm } from './harness';

const PREFIX = 'config/greeter-gateway/tls/';
const SAVED_ENV = { ...process.env };

let certs: ConsulTlsFiles;
let otherCa: ConsulTlsFiles;
let consul: ConsulAgent;
let admin: ConsulApi;
let moto: MotoServer | undefined;
let gatewayToken: string;
let backendToken: string;
const greeters: GreeterBackend[] = [];

const greet = (name: string) => invokeGreet(name);

const resetRuntimes = () => {
  greetRuntime.reset();
  statusRuntime.reset();
  instancesRuntime.reset();
  healthSyncRuntime.reset();
};

/** Starts moto once, for the SSM and Cloud Map cases. */
async function motoServer(): Promise<MotoServer> {
  moto ??= await startMoto();
  useMotoSsm(moto.endpoint);
  return moto;
}

/** The functions' environment for the TLS agent; `over` sets (or, with undefined, removes) variables. */
function useTlsEnvironment(over: Record<string, string | undefined> = {}): void {
  const env: Record<string, string | undefined> = {
    CONSUL_HTTP_ADDR: consul.address,
    CONSUL_HTTP_TOKEN: gatewayToken,
    CONFIG_PREFIX: PREFIX,
    CONSUL_CACERT: certs.caFile,
    CONSUL_CLIENT_CERT: certs.clientCertFile,
    CONSUL_CLIENT_KEY: certs.clientKeyFile,
    CONSUL_CACERT_PARAMETER: undefined,
    CONSUL_CLIENT_CERT_PARAMETER: undefined,
    CONSUL_CLIENT_KEY_PARAMETER: undefined,
    CONSUL_TLS_SERVER_NAME: undefined,
    CONSUL_HTTP_SSL: undefined,
    NODE_TLS_REJECT_UNAUTHORIZED: undefined,
    ...over,
  };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
}

before(async () => {
  certs = createConsulTlsFiles();
  otherCa = createConsulTlsFiles();
  consul = await startConsulAgent({
    tls: {
      caFile: certs.caFile,
      certFile: certs.serverCertFile,
      keyFile: certs.serverKeyFile,
      verifyIncoming: true,
      clientCertFile: certs.clientCertFile,
      clientKeyFile: certs.clientKeyFile,
    },
  });
  admin = createConsulApi({
    address: consul.address,
    token: consul.managementToken,
    tls: {
      ca: readFileSync(certs.caFile, 'utf8'),
      cert: readFileSync(certs.clientCertFile, 'utf8'),
      key: readFileSync(certs.clientKeyFile, 'utf8'),
    },
  });
  ({ gatewayToken, backendToken } = await gatewayTokens(admin, PREFIX));
  await putConfig(admin, PREFIX, {
    discoveryMinIntervalMs: '0',
    configMaxAgeSeconds: '0',
    coldStartWaitMs: '3000',
    greeterTag: 'tls',
  });
  // A backend registered through the admin client over https (the agent checks it over plain gRPC).
  const g = await startGreeter({ id: 'tls-1', register: false, consulAddress: consul.address, token: '' });
  greeters.push(g);
  await registerGrpcService(admin, {
    id: 'tls-1',
    name: 'greeter',
    address: '127.0.0.1',
    port: g.port,
    tags: ['tls'],
    grpc: `127.0.0.1:${g.port}`,
    interval: '1s',
    timeout: '1s',
    deregisterCriticalServiceAfter: '1m',
  });
  await eventually(async () => (await passingIds(admin, 'greeter')).includes('tls-1'), PASSING_WAIT_MS, 'tls-1 passing in Consul');
});

after(async () => {
  resetRuntimes();
  await Promise.all(greeters.map((g) => stopProcess(g.process, 'SIGKILL')));
  admin?.destroy();
  await consul?.stop();
  await moto?.stop();
  certs?.remove();
  otherCa?.remove();
  for (const k of Object.keys(process.env)) if (!(k in SAVED_ENV)) delete process.env[k];
  Object.assign(process.env, SAVED_ENV);
});

/** A loopback listener that records every byte a client sends it (plain TCP) or, over TLS, every byte of application data. */
interface Eavesdropper {
  address: string;
  connections: number;
  received: () => string;
  close(): Promise<void>;
}

async function listen(server: TcpServer, scheme: 'http' | 'https'): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A plain TCP listener standing where Consul's http:// address points. */
async function plainEavesdropper(): Promise<Eavesdropper> {
  const bytes: Buffer[] = [];
  const e = { connections: 0 };
  const server = createTcpServer((socket) => {
    e.connections++;
    socket.on('data', (b: Buffer) => bytes.push(b));
    socket.on('error', () => undefined);
  });
  const address = await listen(server, 'http');
  return Object.assign(e, { address, received: () => Buffer.concat(bytes).toString('latin1'), close: () => closeServer(server) });
}

/** A MITM TLS server on loopback presenting `certFile`/`keyFile` (the functions' own, or another client certificate). */
async function tlsMitm(certFile: string, keyFile: string): Promise<Eavesdropper & { handshakeErrors: string[] }> {
  const bytes: Buffer[] = [];
  const e = { connections: 0, handshakeErrors: [] as string[] };
  const server = createTlsServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (socket) => {
    socket.on('data', (b: Buffer) => bytes.push(b));
    socket.on('error', () => undefined);
  });
  server.on('connection', () => e.connections++);
  server.on('tlsClientError', (err: NodeJS.ErrnoException) => e.handshakeErrors.push(err.code ?? err.message));
  const address = await listen(server, 'https');
  return Object.assign(e, { address, received: () => Buffer.concat(bytes).toString('latin1'), close: () => closeServer(server) });
}

function closeServer(server: TcpServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    (server as TcpServer & { closeAllConnections?: () => void }).closeAllConnections?.();
  });
}

beforeEach(() => {
  resetRuntimes();
  useTlsEnvironment();
});

describe('TLS to Consul (https only, verify_incoming on)', () => {
  it('the agent serves no plain HTTP', async () => {
    const plain = await fetch(`http://127.0.0.1:${consul.httpPort}/v1/status/leader`, { signal: AbortSignal.timeout(2_000) });
    assert.equal(plain.status, 400, 'the HTTPS port answers plain HTTP with 400 only');
  });

  it('greets and shows status over https with the CA and a client certificate from files', async () => {
    const r = await greet('Ada');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.match(String(r.body.message), /Hello, Ada! \(from tls-1\)/);
    const res = await statusHandler(httpEvent('GET'), lambdaContext());
    assert.equal(res.statusCode, 200, res.body);
    const s = JSON.parse(res.body ?? '{}') as {
      config: Record<string, { value: unknown; source: string }>;
      discovery: { instances: { id: string }[] }[];
    };
    assert.equal(s.config.consulAddress?.value, consul.address);
    assert.equal(s.config.greeterTag?.source, 'kv', 'config read from K/V over https');
    assert.deepEqual(
      s.discovery[0]?.instances.map((i) => i.id),
      ['tls-1'],
    );
    assert.ok(greetRuntime.get().consul.address.startsWith('https://'));
  });

  for (const [what, address] of [
    ['https://', () => consul.address],
    ['a bare host:port (https, since CONSUL_CACERT is set)', () => `127.0.0.1:${consul.httpPort}`],
  ] as const) {
    it(`a Greeter backend registers itself over https, given ${what}`, async () => {
      const g = await startGreeter({ id: 'tls-self', tags: ['tls-self'], consulAddress: address(), token: backendToken });
      greeters.push(g);
      await eventually(
        async () => (await passingIds(admin, 'greeter')).includes('tls-self'),
        PASSING_WAIT_MS,
        'tls-self passing in Consul',
      );
      await stopProcess(g.process, 'SIGTERM', 10_000);
      // It deregistered over https on its way out.
      assert.ok(!(await passingIds(admin, 'greeter')).includes('tls-self'));
    });
  }

  for (const c of [
    {
      name: 'a CA that did not sign the agent',
      env: () => ({ CONSUL_CACERT: otherCa.caFile }),
      code: /SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY/,
    },
    {
      name: 'a server name the certificate does not carry',
      env: () => ({ CONSUL_TLS_SERVER_NAME: 'wrong' }),
      code: /ERR_TLS_CERT_ALTNAME_INVALID/,
    },
    {
      name: 'no client certificate (verify_incoming)',
      env: () => ({ CONSUL_CLIENT_CERT: undefined, CONSUL_CLIENT_KEY: undefined }),
      code: /ERR_SSL_/,
    },
  ]) {
    it(`fails closed with 503 CONSUL_UNAVAILABLE and one clear error line for ${c.name}`, async () => {
      useTlsEnvironment(c.env());
      const { result: r, logLines: lines } = await captureOutput(() => greet('Ada'));
      assert.equal(r.status, 503, JSON.stringify(r.body));
      assert.equal(r.body.error?.code, 'CONSUL_UNAVAILABLE');
      assert.ok(r.headers['retry-after']);
      assert.equal(lines.length, 1, `one log line:\n${lines.join('\n')}`);
      const line = JSON.parse(lines[0]!) as { level: string; error?: { name: string; message: string } };
      assert.equal(line.level, 'ERROR');
      assert.equal(line.error?.name, 'ConsulTlsError');
      assert.match(line.error?.message ?? '', new RegExp(`TLS verification failed for ${consul.address.replace(/[.]/g, '\\.')}`));
      assert.match(line.error?.message ?? '', c.code);
      // Nothing was read or written after the failed check, and the client stayed on https.
      const rt = greetRuntime.get();
      assert.deepEqual(Object.fromEntries(rt.consul.requestCounts), { 'consul.status.leader': 1 });
      assert.equal(rt.consul.address, consul.address);
      assert.equal(rt.consul.failovers, 0);
      // The next invocation checks again and fails the same way.
      assert.equal((await greet('Ada')).body.error?.code, 'CONSUL_UNAVAILABLE');
    });
  }

  it("the functions' client certificate is for clientAuth only, names no host, and is signed by the agents' CA", () => {
    const cert = new X509Certificate(readFileSync(certs.clientCertFile));
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2'], 'extended key usage: clientAuth only (no serverAuth)');
    assert.equal(cert.subjectAltName, undefined, 'no DNS or IP names');
    assert.equal(cert.ca, false);
    assert.ok(cert.checkIssued(new X509Certificate(readFileSync(certs.caFile))));
    // The agents' server certificate stays as Consul's CLI makes it.
    const server = new X509Certificate(readFileSync(certs.serverCertFile));
    assert.match(server.subjectAltName ?? '', /DNS:server\.dc1\.consul/);
    // The agent (verify_incoming) accepted it for every call above; this one says so directly.
    assert.equal(greetRuntime.get().env.consulTls?.serverName, 'server.dc1.consul');
  });

  it('checks the agent for server.dc1.consul by default (not the address host), and CONSUL_TLS_SERVER_NAME overrides it', async () => {
    const r = await greet('Ada');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(greetRuntime.get().env.consulTls?.serverName, 'server.dc1.consul');
    resetRuntimes();
    // localhost is in the server certificate too (the CLI puts it there): the override is what is checked.
    useTlsEnvironment({ CONSUL_TLS_SERVER_NAME: 'localhost' });
    assert.equal((await greet('Ada')).status, 200);
    resetRuntimes();
    useTlsEnvironment({ CONSUL_TLS_SERVER_NAME: 'server.dc2.consul' });
    const { result: wrong, logLines } = await captureOutput(() => greet('Ada'));
    assert.equal(wrong.status, 503);
    assert.match(logLines.join('\n'), /ConsulTlsError.*server\.dc2\.consul/);
  });

  it('a bare host:port means https once a TLS setting is present (the agent serves no plain HTTP)', async () => {
    useTlsEnvironment({ CONSUL_HTTP_ADDR: `127.0.0.1:${consul.httpPort}` });
    const r = await greet('Bare');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(greetRuntime.get().consul.address, consul.address, 'written out as https://');
  });

  for (const [what, tls] of [
    ['CONSUL_CACERT (file)', {}],
    [
      'only CONSUL_CACERT_PARAMETER (refused before SSM is asked)',
      {
        CONSUL_CACERT: undefined,
        CONSUL_CLIENT_CERT: undefined,
        CONSUL_CLIENT_KEY: undefined,
        CONSUL_CACERT_PARAMETER: '/consul-grpc-lambda/test/never-read',
      },
    ],
  ] as const) {
    it(`an http:// address beside ${what} is a 500 MISCONFIGURED at cold start: the token is never sent`, async () => {
      const ear = await plainEavesdropper();
      try {
        useTlsEnvironment({ ...tls, CONSUL_HTTP_ADDR: ear.address });
        const { result: r, output } = await captureOutput(() => greet('Ada'));
        assert.equal(r.status, 500, JSON.stringify(r.body));
        assert.equal(r.body.error?.code, 'MISCONFIGURED');
        assert.match(output, /CONSUL_HTTP_ADDR: Consul address 127\.0\.0\.1:\d+ is http:\/\/ but TLS settings are present/);
        assert.match(output, /TLS is on: CONSUL_CACERT/);
        assert.doesNotMatch(output, new RegExp(gatewayToken));
        // The next invocation is refused the same way; nothing ever reached the address.
        assert.equal((await greet('Ada')).body.error?.code, 'MISCONFIGURED');
        assert.equal(ear.connections, 0);
        assert.equal(ear.received(), '');
      } finally {
        await ear.close();
      }
    });
  }

  it('a list that mixes https and http is a 500 MISCONFIGURED', async () => {
    const ear = await plainEavesdropper();
    try {
      useTlsEnvironment({ CONSUL_HTTP_ADDR: `${consul.address},${ear.address}` });
      const { result: r, output } = await captureOutput(() => greet('Ada'));
      assert.equal(r.status, 500, JSON.stringify(r.body));
      assert.equal(r.body.error?.code, 'MISCONFIGURED');
      assert.match(output, /CONSUL_HTTP_ADDR/);
      assert.equal(ear.connections, 0);
    } finally {
      await ear.close();
    }
  });

  it('NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment does not turn verification off: a wrong CA is still refused', async () => {
    useTlsEnvironment({ CONSUL_CACERT: otherCa.caFile, NODE_TLS_REJECT_UNAUTHORIZED: '0' });
    try {
      const { result: r, logLines } = await captureOutput(() => greet('Ada'));
      assert.equal(r.status, 503, JSON.stringify(r.body));
      assert.equal(r.body.error?.code, 'CONSUL_UNAVAILABLE');
      assert.match(
        logLines.join('\n'),
        /ConsulTlsError.*(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)/,
      );
      assert.deepEqual(Object.fromEntries(greetRuntime.get().consul.requestCounts), { 'consul.status.leader': 1 });
    } finally {
      delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    }
  });

  it("a MITM presenting the functions' own client certificate, or a `consul tls cert create -client` one, gets no request and no token", async () => {
    // The certificate Consul's CLI makes for clients: serverAuth, localhost, 127.0.0.1, client.dc1.consul.
    execFileSync(
      ensureConsulBinary((l) => console.error(l)),
      ['tls', 'cert', 'create', '-client', '-dc', 'dc1', '-days', '1'],
      { cwd: certs.dir, stdio: 'ignore', timeout: 30_000 },
    );
    for (const [what, cert, key, code] of [
      [
        "the functions' certificate (clientAuth only, no names)",
        certs.clientCertFile,
        certs.clientKeyFile,
        /\(INVALID_PURPOSE\): unsuitable certificate purpose/,
      ],
      [
        "the CLI's client certificate (serverAuth, names 127.0.0.1)",
        `${certs.dir}/dc1-client-consul-0.pem`,
        `${certs.dir}/dc1-client-consul-0-key.pem`,
        /\(ERR_TLS_CERT_ALTNAME_INVALID\).*Host: server\.dc1\.consul\. is not in the cert's altnames/,
      ],
    ] as const) {
      const mitm = await tlsMitm(cert, key);
      try {
        resetRuntimes();
        useTlsEnvironment({ CONSUL_HTTP_ADDR: mitm.address });
        const { result: r, logLines } = await captureOutput(() => greet('Ada'));
        assert.equal(r.status, 503, `${what}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error?.code, 'CONSUL_UNAVAILABLE', what);
        const log = logLines.join('\n');
        assert.match(log, /ConsulTlsError/, what);
        assert.match(log, code, what);
        assert.ok(mitm.connections > 0, `${what}: the function did dial the MITM`);
        assert.equal(mitm.received(), '', `${what}: no request bytes reached the MITM`);
        assert.doesNotMatch(mitm.received(), new RegExp(gatewayToken));
      } finally {
        await mitm.close();
      }
    }
    // The real agent, with the same settings, is accepted.
    resetRuntimes();
    useTlsEnvironment();
    assert.equal((await greet('Ada')).status, 200);
  });

  it('reads the CA, client certificate and key from SSM parameters when no file is given', async () => {
    await motoServer();
    const ssm = new SSMClient({});
    const names = { CONSUL_CACERT: certs.caFile, CONSUL_CLIENT_CERT: certs.clientCertFile, CONSUL_CLIENT_KEY: certs.clientKeyFile };
    const over: Record<string, string | undefined> = {};
    for (const [name, file] of Object.entries(names)) {
      const param = `/consul-grpc-lambda/test/${name.toLowerCase()}`;
      await ssm.send(new PutParameterCommand({ Name: param, Value: readFileSync(file, 'utf8'), Type: 'SecureString' }));
      over[name] = undefined;
      over[`${name}_PARAMETER`] = param;
    }
    ssm.destroy();
    useTlsEnvironment(over);
    const r = await greet('Grace');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.match(String(r.body.message), /Hello, Grace!/);
  });
});

describe('the instance registry and health-sync over https (verify_incoming on)', () => {
  const REGISTRY_PREFIX = 'config/instance-registry/tls/';
  const HS_PREFIX = 'config/health-sync/tls/';
  /** A REST (API Gateway v1) event for the instances function, as API Gateway hands it over after the API key check. */
  const rest = (
    httpMethod: string,
    resource: string,
    o: { body?: unknown; id?: string; query?: Record<string, string>; leaseToken?: string } = {},
  ) =>
    ({
      httpMethod,
      resource,
      path: resource.replace('{id}', o.id ?? ''),
      headers: { 'content-type': 'application/json', ...(o.leaseToken ? { 'x-lease-token': o.leaseToken } : {}) },
      body: o.body === undefined ? null : JSON.stringify(o.body),
      pathParameters: o.id ? { id: o.id } : null,
      queryStringParameters: o.query ?? null,
      requestContext: { identity: { apiKeyId: 'tls-test' } },
      isBase64Encoded: false,
    }) as unknown as APIGatewayProxyEvent;
  const instances = async (event: APIGatewayProxyEvent) => {
    const res = await instancesHandler(event, lambdaContext());
    return { status: res.statusCode, body: JSON.parse(res.body || '{}') as Record<string, unknown> };
  };

  it('registers, lists, heartbeats and deletes an instance, and health-sync probes it and mirrors it into Cloud Map', async () => {
    const m = await motoServer();
    const cm = createCloudMapClient({ region: 'us-east-1', endpoint: m.endpoint });
    try {
      const op = await cm.send(new CreateHttpNamespaceCommand({ Name: `tls-${randomBytes(3).toString('hex')}` }));
      const namespaceId = (await cm.send(new GetOperationCommand({ OperationId: op.OperationId }))).Operation?.Targets?.NAMESPACE ?? '';
      await seedDefaultConfig(admin, REGISTRY_PREFIX, REGISTRY_KEYS, {
        allowedCidrs: '127.0.0.0/8',
        allowLoopback: 'true',
        leaseEnabled: 'false',
      });
      await seedDefaultConfig(admin, HS_PREFIX, HEALTH_SYNC_KEYS, {
        services: 'ephemeral-tls',
        probeServices: 'ephemeral-tls',
        successesBeforePassing: '1',
        cloudMapNamespaceId: namespaceId,
        cloudMapEndpoint: m.endpoint,
        cloudMapRegion: 'us-east-1',
        leaseEnabled: 'false',
      });
      const registryToken = await makeRegistryToken(admin, REGISTRY_PREFIX);
      const syncToken = await healthSyncToken(admin, HS_PREFIX);
      const backend = greeters[0];
      assert.ok(backend);

      useTlsEnvironment({
        CONSUL_HTTP_TOKEN: registryToken,
        CONFIG_PREFIX: REGISTRY_PREFIX,
        REGISTRY_SIGNING_KEY: randomBytes(32).toString('base64'),
      });
      const created = await instances(
        rest('POST', '/instances', {
          body: { service: 'ephemeral-tls', address: '127.0.0.1', port: backend.port, check: { type: 'grpc' } },
        }),
      );
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const { id, leaseToken } = created.body as { id: string; leaseToken: string };
      // A heartbeat-kept (TTL) instance beside the probed one.
      const kept = await instances(
        rest('POST', '/instances', { body: { service: 'ephemeral-tls', address: '127.0.0.2', port: 8080, ttl: '60s' } }),
      );
      assert.equal(kept.status, 201, JSON.stringify(kept.body));
      const ttl = kept.body as { id: string; leaseToken: string };
      assert.equal((await instances(rest('PUT', '/instances/{id}/heartbeat', { id: ttl.id, leaseToken: ttl.leaseToken }))).status, 200);
      const listed = await instances(rest('GET', '/instances', { query: { service: 'ephemeral-tls' } }));
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      assert.deepEqual((listed.body.instances as { id: string }[]).map((i) => i.id).sort(), [id, ttl.id].sort());

      // The probe (over gRPC) passes; its verdict and the Cloud Map mirror go through Consul over https.
      useTlsEnvironment({ CONSUL_HTTP_TOKEN: syncToken, CONFIG_PREFIX: HS_PREFIX });
      const first = (await healthSyncHandler({}, lambdaContext(60_000))) as {
        probes: { id: string; status: string }[];
        cloudMap?: { errors: unknown[] };
      };
      assert.equal(first.probes.find((p) => p.id === id)?.status, 'passing', JSON.stringify(first.probes));
      assert.deepEqual(first.cloudMap?.errors, [], JSON.stringify(first));
      assert.ok((await passingIds(admin, 'ephemeral-tls')).includes(id), 'passing in Consul');
      const service = ((await cm.send(new ListServicesCommand({}))).Services ?? []).find((x) => x.Name === 'ephemeral-tls');
      const mirrored = ((await cm.send(new ListInstancesCommand({ ServiceId: service?.Id }))).Instances ?? []).map((i) => i.Id);
      assert.deepEqual(mirrored.sort(), [id, ttl.id].sort());

      useTlsEnvironment({
        CONSUL_HTTP_TOKEN: registryToken,
        CONFIG_PREFIX: REGISTRY_PREFIX,
        REGISTRY_SIGNING_KEY: process.env.REGISTRY_SIGNING_KEY,
      });
      assert.equal((await instances(rest('DELETE', '/instances/{id}', { id, leaseToken }))).status, 204);
      assert.equal((await instances(rest('DELETE', '/instances/{id}', { id: ttl.id, leaseToken: ttl.leaseToken }))).status, 204);
      useTlsEnvironment({ CONSUL_HTTP_TOKEN: syncToken, CONFIG_PREFIX: HS_PREFIX });
      healthSyncRuntime.reset();
      await healthSyncHandler({}, lambdaContext(60_000));
      const left = ((await cm.send(new ListInstancesCommand({ ServiceId: service?.Id }))).Instances ?? []).map((i) => i.Id);
      assert.deepEqual(left, [], 'the mirror follows the delete');
    } finally {
      cm.destroy();
      delete process.env.REGISTRY_SIGNING_KEY;
    }
  });
});
