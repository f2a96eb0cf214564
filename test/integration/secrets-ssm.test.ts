// Deployed functions read their Consul token from an SSM SecureString on cold start
// (never from the function configuration). moto stands in for SSM here.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { handler as greetHandler, runtime as greetRuntime } from '../../functions/greet';
import { handler as statusHandler, runtime as statusRuntime } from '../../functions/status';
import { startMoto, type MotoServer } from '../../scripts/stack/moto';
import { httpEvent, lambdaContext, startTestStack, type TestStack, useMotoSsm } from './harness';

let stack: TestStack;
let moto: MotoServer | undefined;
const PARAM = '/consul-grpc-lambda/test/consul-token/greeter-gateway';

before(async () => {
  stack = await startTestStack();
  await stack.addGreeter({ id: 'ssm-1' });
  moto = await startMoto();
  useMotoSsm(moto.endpoint);
  const ssm = new SSMClient({});
  await ssm.send(new PutParameterCommand({ Name: PARAM, Value: stack.gatewayToken, Type: 'SecureString' }));
  ssm.destroy();
  Object.assign(process.env, {
    CONSUL_HTTP_ADDR: stack.consul.address,
    CONSUL_HTTP_TOKEN: '',
    CONSUL_HTTP_TOKEN_PARAMETER: PARAM,
    CONFIG_PREFIX: stack.prefix,
  });
});
after(async () => {
  greetRuntime.reset();
  statusRuntime.reset();
  await moto?.stop();
  await stack?.stop();
});

describe('secrets from SSM', () => {
  it('greets with a token fetched from an SSM SecureString', async () => {
    const res = await greetHandler(httpEvent('GET', { name: 'Ada' }), lambdaContext());
    assert.equal(res.statusCode, 200, res.body);
    const status = await statusHandler(httpEvent('GET'), lambdaContext());
    assert.doesNotMatch(status.body ?? '', new RegExp(stack.gatewayToken));
    const cfg = (JSON.parse(status.body ?? '{}') as { config: Record<string, { value: unknown; source: string }> }).config;
    assert.equal(cfg.consulToken?.source, 'ssm');
  });

  it('fails clearly, naming the parameter but no value, when the parameter is missing', async () => {
    greetRuntime.reset();
    process.env.CONSUL_HTTP_TOKEN_PARAMETER = '/consul-grpc-lambda/test/missing';
    const res = await greetHandler(httpEvent('GET', { name: 'Ada' }), lambdaContext());
    assert.equal(res.statusCode, 500);
    assert.equal((JSON.parse(res.body ?? '{}') as { error: { code: string } }).error.code, 'MISCONFIGURED');
    assert.doesNotMatch(res.body ?? '', /missing|ssm/i, 'details stay in the logs');
    process.env.CONSUL_HTTP_TOKEN_PARAMETER = PARAM;
  });
});
