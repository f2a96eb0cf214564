import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toJson } from '@bufbuild/protobuf';
import { shippedDescriptors } from '../../../lib/rpc/descriptors';
import { RpcError } from '../../../lib/rpc/errors';
import { requestMessage, type RequestParts } from '../../../lib/rpc/request-message';
import { buildRouteTable } from '../../../lib/rpc/routes';

const d = shippedDescriptors();
const routes = buildRouteTable(d);

function build(method: string, path: string, parts: Partial<RequestParts>) {
  const match = routes.match(method, path);
  assert.ok(match, `${method} ${path} routes`);
  const msg = requestMessage(match, { body: undefined, query: [], ...parts });
  return toJson(match.method.desc.input, msg);
}

function refused(fn: () => unknown, field: string | undefined, message: RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof RpcError, String(e));
    assert.equal(e.kind, 'invalid_argument');
    assert.equal(e.details.field, field);
    assert.match(e.message, message);
    return true;
  });
}

describe('HTTP request → input message', () => {
  it('decodes a whole JSON body in proto3 JSON, field names in either form', () => {
    const body = {
      message: 'hi',
      big: '9007199254740993',
      mood: 'MOOD_GRUMPY',
      sent_at: '2024-01-01T00:00:00Z',
      payload: 'AQI=',
      scores: { a: 2 },
    };
    assert.deepEqual(build('POST', '/rpc/echo.v1.Echo/Say', { body }), {
      message: 'hi',
      big: '9007199254740993',
      mood: 'MOOD_GRUMPY',
      sentAt: '2024-01-01T00:00:00Z',
      payload: 'AQI=',
      scores: { a: 2 },
    });
  });

  it('fills path variables and typed query parameters, repeated ones collected', () => {
    const query: [string, string][] = [
      ['count', '3'],
      ['loud', 'true'],
      ['mood', '1'],
      ['tags', 'a'],
      ['tags', 'b'],
      ['nested.note', 'n'],
      ['nested.ids', '7'],
      ['sent_at', '2024-05-01T10:00:00Z'],
    ];
    assert.deepEqual(build('GET', '/v1/rooms/lobby', { query }), {
      name: 'rooms/lobby',
      count: 3,
      loud: true,
      mood: 'MOOD_HAPPY',
      tags: ['a', 'b'],
      nested: { note: 'n', ids: ['7'] },
      sentAt: '2024-05-01T10:00:00Z',
    });
  });

  it('maps the body onto the annotated body field, the path winning for what it binds', () => {
    assert.deepEqual(build('PUT', '/v1/users/ada/echo', { body: { note: 'x', ids: ['1'] }, query: [['message', 'm']] }), {
      message: 'm',
      userId: 'ada',
      nested: { note: 'x', ids: ['1'] },
    });
    assert.deepEqual(build('POST', '/v1/groups/g1/echo', { body: { group_id: 'other', message: 'm' } }), { message: 'm', groupId: 'g1' });
  });

  it('refuses unknown fields and wrong types, naming the field', () => {
    refused(() => build('POST', '/rpc/echo.v1.Echo/Say', { body: { bogus: 1 } }), 'bogus', /bogus/);
    refused(() => build('POST', '/rpc/echo.v1.Echo/Say', { body: { count: 'many' } }), 'count', /count/);
    refused(() => build('POST', '/rpc/echo.v1.Echo/Say', { body: { nested: { ids: ['x'] } } }), 'Nested.ids', /ids/);
    refused(() => build('GET', '/v1/rooms/lobby', { query: [['loud', 'yes']] }), 'loud', /loud/);
    refused(() => build('GET', '/v1/rooms/lobby', { query: [['nope', '1']] }), 'nope', /nope/);
    refused(() => build('GET', '/v1/rooms/lobby', { query: [['scores', '1']] }), 'scores', /map/);
    refused(() => build('POST', '/rpc/echo.v1.Echo/Say', { query: [['count', '1']] }), 'count', /whole request/);
    refused(() => build('POST', '/rpc/echo.v1.Echo/Say', { body: [1] }), undefined, /JSON object/);
    refused(() => build('GET', '/v1/rooms/lobby', { body: { message: 'x' } }), undefined, /no body/);
  });
});
