import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { json, noContent } from '../../../lib/http/responses';

describe('json', () => {
  it('serialises the body with a JSON content type and no caching', () => {
    assert.deepEqual(json(201, { id: 'a' }), {
      statusCode: 201,
      headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
      body: '{"id":"a"}',
    });
  });

  it('adds extra headers next to the defaults', () => {
    assert.deepEqual(json(503, {}, { 'retry-after': '2' }).headers, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'retry-after': '2',
    });
  });
});

describe('noContent', () => {
  it('is an empty, uncached 204', () => {
    assert.deepEqual(noContent(), { statusCode: 204, headers: { 'cache-control': 'no-store' }, body: '' });
  });
});
