// The packaged rpc bundle (serverless package → zip, the descriptor set inside it) on the real Lambda
// runtime pieces: the Runtime Interface Emulator and the official Node runtime interface client,
// against real Consul (ACLs on) and a real Echo; grpcurl answers the same call. The emulator's init
// and first-invocation times of rpc and greet are printed beside each other (a diagnostic, not a bound).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { kvPut } from '../../lib/consul/kv';
import { ensureGrpcurlBinary } from '../../scripts/grpcurl-binary';
import { startLambdaRie, type LambdaRie } from '../../scripts/rie/lambda-rie';
import { packageFunctions, type PackageOutput } from '../../scripts/rie/package-functions';
import { ensureRic } from '../../scripts/rie/ric';
import { ensureRieBinary } from '../../scripts/rie/rie-binary';
import { stopProcess } from '../../scripts/stack/processes';
import { seedDefaultConfig } from '../../scripts/stack/seed-config';
import { eventually, httpEvent, passingIds, startTestStack, type TestStack } from './harness';
import { grpcurl, provisionRpcToken, rpcEvent, startEcho, type EchoBackend } from './rpc-support';
import { echoBackendToken } from '../../scripts/stack/tokens';

const PREFIX = 'config/rpc-gateway/local/';
let pkg: PackageOutput | undefined;
let stack: TestStack;
let echo: EchoBackend | undefined;
let rpcToken: string;
const started: LambdaRie[] = [];

before(async () => {
  ensureRieBinary((l) => console.error(l));
  ensureRic((l) => console.error(l));
  const packaging = packageFunctions({ codeCache: false });
  stack = await startTestStack('config/greeter-gateway/local/');
  await seedDefaultConfig(stack.admin, stack.prefix);
  await stack.addGreeter({ id: 'rpc-rie-greeter' });
  echo = await startEcho({ consulAddress: stack.consul.address, token: await echoBackendToken(stack.admin, ['echo']), id: 'echo-rie-1' });
  await eventually(async () => (await passingIds(stack.admin, 'echo')).includes('echo-rie-1'), 15_000, 'echo passing in Consul');
  rpcToken = await provisionRpcToken(stack.admin, ['greeter', 'echo'], PREFIX);
  await kvPut(stack.admin, `${PREFIX}rpcAllow`, 'helloworld.Greeter/SayHello,echo.v1.Echo/*');
  await kvPut(stack.admin, `${PREFIX}coldStartWaitMs`, '5000');
  pkg = await packaging;
});
after(async () => {
  for (const r of started) await r.stop();
  if (echo) await stopProcess(echo.process, 'SIGKILL');
  await stack?.stop();
  pkg?.remove();
});

async function emulate(name: string, token: string): Promise<LambdaRie> {
  const fn = pkg?.functions.get(name);
  assert.ok(fn, `${name} was packaged`);
  const rie = await startLambdaRie({ fn, env: { CONSUL_HTTP_ADDR: stack.consul.address, CONSUL_HTTP_TOKEN: token } });
  started.push(rie);
  return rie;
}

describe('rpc bundle in the Lambda emulator', () => {
  it('answers what grpcurl answers, from the descriptor set in its bundle, and 501 for a streaming method', async () => {
    const rie = await emulate('rpc', rpcToken);
    const body = {
      message: 'in the emulator',
      big: '123',
      mood: 'MOOD_HAPPY',
      tags: ['x'],
      sentAt: '2024-01-01T00:00:00Z',
      payload: 'AQI=',
    };
    const cold = await rie.invoke(rpcEvent('POST', '/rpc/echo.v1.Echo/Say', { body }));
    const res = cold.payload as { statusCode: number; body: string };
    assert.equal(res.statusCode, 200, res.body);
    const ref = await grpcurl(ensureGrpcurlBinary(), echo!.port, 'echo.v1.Echo/Say', body);
    assert.equal(ref.code, 0, ref.stderr);
    assert.deepEqual(JSON.parse(res.body), JSON.parse(ref.stdout));
    const stream = (await rie.invoke(rpcEvent('POST', '/v1/echo:expand', { body: { count: 2 } }))).payload as { statusCode: number };
    assert.equal(stream.statusCode, 501);
    const greeter = (await rie.invoke(rpcEvent('POST', '/rpc/helloworld.Greeter/SayHello', { body: { name: 'Ada' } }))).payload as {
      statusCode: number;
      body: string;
    };
    assert.equal(greeter.statusCode, 200, greeter.body);
    const greetRie = await emulate('greet', stack.gatewayToken);
    const greetCold = await greetRie.invoke(httpEvent('GET', { name: 'Ada' }));
    assert.equal((greetCold.payload as { statusCode: number }).statusCode, 200);
    console.error(
      `emulator cold start: rpc init ${cold.runtimeInitMs ?? cold.report.initDurationMs} ms + first invocation ${cold.report.durationMs} ms (peak ${cold.peakRssMb} MB); ` +
        `greet init ${greetCold.runtimeInitMs ?? greetCold.report.initDurationMs} ms + first invocation ${greetCold.report.durationMs} ms (peak ${greetCold.peakRssMb} MB)`,
    );
  });
});
