import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nameFromBody, nameFromPath } from '../../../lib/greeter/greet-input';
import { RequestError } from '../../../lib/http/errors';

function rejects(fn: () => unknown, status: number, message: RegExp) {
  assert.throws(fn, (err: unknown) => err instanceof RequestError && err.status === status && message.test(err.message));
}

describe('nameFromPath', () => {
  it('accepts 1–128 characters, counting code points', () => {
    assert.equal(nameFromPath({ pathParameters: { name: 'Ada' } }), 'Ada');
    assert.equal(nameFromPath({ pathParameters: { name: '😀'.repeat(128) } }), '😀'.repeat(128));
  });
  it('rejects empty, too long and control characters', () => {
    rejects(() => nameFromPath({ pathParameters: { name: '' } }), 400, /empty/);
    rejects(() => nameFromPath({ pathParameters: { name: 'a'.repeat(129) } }), 400, /128/);
    rejects(() => nameFromPath({ pathParameters: { name: 'a\u0000b' } }), 400, /control/);
    rejects(() => nameFromPath({ pathParameters: {} }), 400, /required/);
  });
});

describe('nameFromBody', () => {
  const body = (b: string, extra: object = {}) => ({ body: b, headers: { 'Content-Type': 'application/json' }, ...extra });
  it('reads {"name"} and base64 bodies', () => {
    assert.equal(nameFromBody(body('{"name":"Grace"}')), 'Grace');
    assert.equal(nameFromBody(body(Buffer.from('{"name":"Linus"}').toString('base64'), { isBase64Encoded: true })), 'Linus');
  });
  it('rejects bad JSON, wrong shapes and unknown fields with 400', () => {
    rejects(() => nameFromBody(body('{')), 400, /not valid JSON/);
    rejects(() => nameFromBody(body('')), 400, /JSON object/);
    rejects(() => nameFromBody(body('[]')), 400, /JSON object/);
    rejects(() => nameFromBody(body('{"name":42}')), 400, /string/);
    rejects(() => nameFromBody(body('{"name":"a","admin":true}')), 400, /unknown field.*admin/);
    rejects(() => nameFromBody(body('{"name":"\\u0007"}')), 400, /control/);
  });
  it('rejects other media types with 415 and huge bodies with 413', () => {
    rejects(() => nameFromBody({ body: 'name=a', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, /application\/json/);
    rejects(() => nameFromBody(body(`{"name":"${'a'.repeat(20_000)}"}`)), 413, /at most/);
  });
});
