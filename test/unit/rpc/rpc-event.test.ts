import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RequestError } from '../../../lib/http/errors';
import { rpcRequestOf } from '../../../lib/http/rpc-event';

describe('reading a payload v2 event for the rpc route', () => {
  it('keeps the raw path, repeated query parameters in order, and the parsed body', () => {
    const req = rpcRequestOf({
      rawPath: '/v1/rooms/a%2Fb',
      rawQueryString: 'tags=a&tags=b&nested.note=x%20y',
      headers: { 'content-type': 'application/json', 'x-tenant': 't' },
      body: '{"message":"hi"}',
      requestContext: { http: { method: 'PUT' } },
    });
    assert.equal(req.httpMethod, 'PUT');
    assert.equal(req.path, '/v1/rooms/a%2Fb');
    assert.deepEqual(req.query, [
      ['tags', 'a'],
      ['tags', 'b'],
      ['nested.note', 'x y'],
    ]);
    assert.deepEqual(req.body, { message: 'hi' });
  });

  it('has no body when none was sent, and refuses what the edge refuses for greet', () => {
    assert.equal(rpcRequestOf({ rawPath: '/v1/rooms/a', requestContext: { http: { method: 'GET' } } }).body, undefined);
    const bad =
      (body: string, type = 'application/json') =>
      () =>
        rpcRequestOf({ rawPath: '/rpc/a.B/C', body, headers: { 'content-type': type }, requestContext: { http: { method: 'POST' } } });
    assert.throws(bad('{"a":1,"a":2}'), (e: unknown) => e instanceof RequestError && e.kind === 'invalid_body');
    assert.throws(bad('{'), (e: unknown) => e instanceof RequestError && e.kind === 'invalid_body');
    assert.throws(bad('a=1', 'text/plain'), (e: unknown) => e instanceof RequestError && e.kind === 'unsupported_media_type');
  });
});
