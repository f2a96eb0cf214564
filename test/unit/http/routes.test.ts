import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RequestError } from '../../../lib/http/errors';
import { restRouter } from '../../../lib/http/routes';

const route = restRouter({ 'GET /things': 'list', 'DELETE /things/{id}': 'delete' });

const refused = (err: unknown) => err instanceof RequestError && err.kind === 'method_not_allowed';

describe('restRouter', () => {
  it('names the route of a method on a resource template', () => {
    assert.equal(route({ httpMethod: 'GET', resource: '/things' }), 'list');
    assert.equal(route({ httpMethod: 'DELETE', resource: '/things/{id}' }), 'delete');
  });

  it('refuses another method on a known resource, an unknown resource, and an event without either', () => {
    assert.throws(() => route({ httpMethod: 'POST', resource: '/things' }), refused);
    assert.throws(() => route({ httpMethod: 'GET', resource: '/elsewhere' }), refused);
    assert.throws(() => route({ httpMethod: 'GET', resource: '/things/' }), refused);
    assert.throws(() => route({}), refused);
  });
});
