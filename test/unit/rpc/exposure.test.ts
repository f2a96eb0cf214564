import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ALLOW_ENTRY, forbiddenHeader, forwardedMetadata, isAllowed } from '../../../lib/rpc/exposure';
import { RPC_KEYS } from '../../../lib/rpc/rpc-config';

describe('method allow-list', () => {
  it('allows exact methods and whole services only', () => {
    const allow = ['helloworld.Greeter/SayHello', 'echo.v1.Echo/*'];
    assert.equal(isAllowed(allow, 'helloworld.Greeter/SayHello'), true);
    assert.equal(isAllowed(allow, 'helloworld.Greeter/SayGoodbye'), false);
    assert.equal(isAllowed(allow, 'echo.v1.Echo/Secret'), true);
    assert.equal(isAllowed(allow, 'echo.v1.EchoX/Say'), false);
    assert.equal(isAllowed([], 'helloworld.Greeter/SayHello'), false);
  });

  it('is the Greeter alone by default, and refuses malformed entries', () => {
    assert.deepEqual(RPC_KEYS.rpcAllow.default, ['helloworld.Greeter/SayHello']);
    for (const ok of ['a.B/C', 'a.b.v1.Svc/*', 'Svc/M']) assert.match(ok, ALLOW_ENTRY);
    for (const bad of ['*', 'a.B', 'a.B/*/x', 'a.B/C D', '/a.B/C']) assert.doesNotMatch(bad, ALLOW_ENTRY);
    assert.equal(RPC_KEYS.rpcAllow.schema.safeParse('echo.v1.Echo/*, *').success, false);
  });
});

describe('header allow-list', () => {
  it('never forwards credentials, hop-by-hop, AWS or gRPC-reserved headers', () => {
    for (const h of [
      'authorization',
      'Authorization',
      'x-api-key',
      'connection',
      'te',
      'transfer-encoding',
      'upgrade',
      'x-amzn-trace-id',
      'x-amzn-requestid',
      'grpc-timeout',
      'x-foo-bin',
      'cookie',
    ])
      assert.ok(forbiddenHeader(h), h);
    for (const h of ['x-tenant', 'x-request-id', 'accept-language']) assert.equal(forbiddenHeader(h), undefined, h);
  });

  it('refuses a forbidden header in the config key, naming why', () => {
    const bad = RPC_KEYS.rpcForwardHeaders.schema.safeParse('x-tenant,authorization');
    assert.equal(bad.success, false);
    assert.match(bad.error?.issues[0]?.message ?? '', /authorization/);
    assert.deepEqual(RPC_KEYS.rpcForwardHeaders.schema.parse('X-Tenant, x-request-id'), ['x-tenant', 'x-request-id']);
  });

  it('forwards only listed headers, lower-cased, and never a forbidden one even if listed', () => {
    const headers = { 'X-Tenant': 't1', authorization: 'Bearer s', 'x-api-key': 'k', 'x-other': 'o', 'x-amzn-trace-id': 'Root=1' };
    assert.deepEqual(forwardedMetadata(headers, ['x-tenant', 'authorization', 'x-amzn-trace-id']), { 'x-tenant': 't1' });
    assert.deepEqual(forwardedMetadata(headers, []), {});
  });
});
