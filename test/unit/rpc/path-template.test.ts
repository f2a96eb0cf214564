import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchPathTemplate, parsePathTemplate, PathTemplateError } from '../../../lib/rpc/path-template';

const match = (template: string, path: string) => matchPathTemplate(parsePathTemplate(template), path);

describe('google.api.http path templates', () => {
  it('matches literals and binds a single-segment variable, percent-decoded', () => {
    assert.deepEqual(match('/v1/users/{user_id}/echo', '/v1/users/ada%20l/echo'), { user_id: 'ada l' });
    assert.equal(match('/v1/users/{user_id}/echo', '/v1/users/ada/other'), undefined);
    assert.equal(match('/v1/users/{user_id}/echo', '/v1/users//echo'), undefined);
    assert.equal(match('/v1/users/{user_id}/echo', '/v1/users/a/b/echo'), undefined);
  });

  it('binds a variable with a sub-template, slashes included', () => {
    assert.deepEqual(match('/v1/{name=rooms/*}', '/v1/rooms/lobby'), { name: 'rooms/lobby' });
    assert.equal(match('/v1/{name=rooms/*}', '/v1/halls/lobby'), undefined);
    assert.deepEqual(match('/v1/{name=rooms/*}/messages/{id}', '/v1/rooms/a/messages/7'), { name: 'rooms/a', id: '7' });
  });

  it('needs the verb after the last segment', () => {
    assert.deepEqual(match('/v1/echo:say', '/v1/echo:say'), {});
    assert.equal(match('/v1/echo:say', '/v1/echo'), undefined);
    assert.equal(match('/v1/echo:say', '/v1/echo:shout'), undefined);
    assert.deepEqual(match('/v1/{name=rooms/*}:archive', '/v1/rooms/x:archive'), { name: 'rooms/x' });
  });

  it('lets ** take the rest of the path, zero segments or more', () => {
    assert.deepEqual(match('/v1/{path=files/**}', '/v1/files/a/b/c'), { path: 'files/a/b/c' });
    assert.deepEqual(match('/v1/{path=files/**}', '/v1/files'), { path: 'files' });
    assert.deepEqual(match('/static/**', '/static/x/y'), {});
  });

  it('refuses templates outside the grammar, naming them', () => {
    for (const bad of ['v1/x', '/v1/{a', '/v1/{a=**}/x', '/v1/{a}/{a}', '/v1/{a={b}}', '/v1/{1a}', '/v1/a b'])
      assert.throws(
        () => parsePathTemplate(bad),
        (e: unknown) => e instanceof PathTemplateError && e.message.includes(bad),
        bad,
      );
  });
});
