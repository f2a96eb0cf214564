// Health and reflection of a real Greeter backend, checked with the stock
// grpcurl (pinned, built from the Go module proxy): protobuf-go validates the
// reflected descriptors strictly, so this catches descriptors that only
// lenient JavaScript clients accept.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { ensureGrpcurlBinary } from '../../scripts/grpcurl-binary';
import { startGreeter, type GreeterBackend } from '../../scripts/stack/greeters';
import { stopAll } from '../../scripts/stack/processes';

const INSTANCE_ID = 'grpcurl-greeter';
let grpcurlBin: string;
let backend: GreeterBackend;

interface GrpcurlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs grpcurl against the backend: `verb` is `list`, `describe SYMBOL` or a method, `data` its JSON request. */
function grpcurl(verb: string[], data?: string): Promise<GrpcurlResult> {
  const flags = ['-plaintext', '-max-time', '10', ...(data === undefined ? [] : ['-d', data])];
  return new Promise((resolve) => {
    execFile(grpcurlBin, [...flags, `127.0.0.1:${backend.port}`, ...verb], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

/** Like grpcurl(), but fails the test on a non-zero exit and returns stdout. */
async function grpcurlOk(verb: string[], data?: string): Promise<string> {
  const res = await grpcurl(verb, data);
  assert.equal(res.code, 0, `grpcurl ${verb.join(' ')} exited ${res.code}: ${res.stderr.trim()}`);
  return res.stdout;
}

before(async () => {
  grpcurlBin = ensureGrpcurlBinary((line) => console.error(line));
  // Unregistered, so the Consul address is never dialled; main.ts only requires a valid one.
  backend = await startGreeter({ consulAddress: '127.0.0.1:1', token: '', id: INSTANCE_ID, register: false });
});

// stopAll also stops a backend whose startup failed before `backend` was set.
after(() => stopAll());

describe('Greeter backend with stock grpcurl', () => {
  it('lists health, reflection and Greeter through server reflection', async () => {
    const services = (await grpcurlOk(['list'])).split('\n').filter((l) => l !== '');
    for (const name of ['grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'helloworld.Greeter']) {
      assert.ok(services.includes(name), `list shows ${name}: ${services.join(', ')}`);
    }
  });

  it('describes every listed service', async () => {
    const services = (await grpcurlOk(['list'])).split('\n').filter((l) => l !== '');
    for (const name of services) {
      assert.match(await grpcurlOk(['describe', name]), new RegExp(`^${name.replaceAll('.', '\\.')} is a service:`));
    }
  });

  it('describes grpc.health.v1.Health with all its methods', async () => {
    const out = await grpcurlOk(['describe', 'grpc.health.v1.Health']);
    for (const method of ['Check', 'Watch', 'List']) assert.match(out, new RegExp(`rpc ${method} \\(`), out);
  });

  it('describes the map field of HealthListResponse as a map', async () => {
    const out = await grpcurlOk(['describe', 'grpc.health.v1.HealthListResponse']);
    assert.match(out, /map<string, \.grpc\.health\.v1\.HealthCheckResponse> statuses = 1;/, out);
  });

  it('grpc.health.v1.Health/Check answers SERVING for the server and for the Greeter', async () => {
    assert.deepEqual(JSON.parse(await grpcurlOk(['grpc.health.v1.Health/Check'])), { status: 'SERVING' });
    const greeter = await grpcurlOk(['grpc.health.v1.Health/Check'], '{"service":"helloworld.Greeter"}');
    assert.deepEqual(JSON.parse(greeter), { status: 'SERVING' });
  });

  it('grpc.health.v1.Health/Check of an unknown service fails with NOT_FOUND', async () => {
    const res = await grpcurl(['grpc.health.v1.Health/Check'], '{"service":"no.such.Service"}');
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /Code: NotFound/, res.stderr);
  });

  it('grpc.health.v1.Health/List returns every registered status', async () => {
    assert.deepEqual(JSON.parse(await grpcurlOk(['grpc.health.v1.Health/List'])), {
      statuses: { '': { status: 'SERVING' }, 'helloworld.Greeter': { status: 'SERVING' } },
    });
  });

  it('helloworld.Greeter/SayHello returns the greeting', async () => {
    const out = await grpcurlOk(['helloworld.Greeter/SayHello'], '{"name":"x"}');
    assert.deepEqual(JSON.parse(out), { message: `Hello, x! (from ${INSTANCE_ID})` });
  });
});
