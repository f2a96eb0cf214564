import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readLambdaFunctionIdentity } from '../../../lib/config/environment';
import { leaseIdentity, renewalDue } from '../../../lib/lease/lease-identity';

describe('leaseIdentity', () => {
  it('names the environment uniquely and carries the Lambda facts', () => {
    const env = {
      AWS_LAMBDA_FUNCTION_NAME: 'greet',
      AWS_LAMBDA_FUNCTION_VERSION: '7',
      AWS_REGION: 'eu-west-1',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      AWS_LAMBDA_LOG_STREAM_NAME: 'stream',
    };
    const a = leaseIdentity('gw-lambda', new Date(0), readLambdaFunctionIdentity(env));
    const b = leaseIdentity('gw-lambda', new Date(0), readLambdaFunctionIdentity(env));
    assert.match(a.id, /^gw-lambda-[0-9a-f]{16}$/);
    assert.notEqual(a.id, b.id);
    assert.deepEqual(a.meta, {
      function: 'greet',
      version: '7',
      region: 'eu-west-1',
      memory_mb: '256',
      runtime: 'AWS_Lambda_nodejs22.x',
      cold_start_at: '1970-01-01T00:00:00.000Z',
      log_stream: 'stream',
    });
  });
  it('says local outside Lambda', () => {
    const { meta } = leaseIdentity('s', new Date(0), readLambdaFunctionIdentity({}));
    assert.equal(meta.function, 'local');
    assert.equal(meta.version, '$LATEST');
    assert.equal(meta.region, 'local');
  });
  it('keeps meta values within Consul limits', () => {
    const { meta } = leaseIdentity('s', new Date(0), { logStream: 'x'.repeat(600) });
    assert.equal(meta.log_stream?.length, 512);
  });
});

describe('renewalDue', () => {
  it('renews at most once per third of the TTL', () => {
    assert.equal(renewalDue(undefined, 0, 30), true);
    assert.equal(renewalDue(0, 9_999, 30), false);
    assert.equal(renewalDue(0, 10_000, 30), true);
  });
});
