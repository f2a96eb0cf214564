import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { API_ROUTES, eventFor, FUNCTIONS_WITH_DEFAULTS, requestEvent } from '../../../scripts/rie/events';

/** `METHOD /path` of each function's http and httpApi events in serverless.yml. */
function serverlessRoutes(): Map<string, string[]> {
  const routes = new Map<string, string[]>();
  let fn = '';
  let method = '';
  let inFunctions = false;
  for (const line of readFileSync(join(__dirname, '..', '..', '..', 'serverless.yml'), 'utf8').split('\n')) {
    if (/^\S/.test(line)) inFunctions = line.startsWith('functions:');
    if (!inFunctions) continue;
    const name = /^ {2}(\w+):\s*$/.exec(line)?.[1];
    if (name) fn = name;
    const m = /^\s+method:\s*'?([^'\s]+)'?\s*$/.exec(line)?.[1];
    if (m) method = m.toUpperCase();
    const path = /^\s+path:\s*(\S+)\s*$/.exec(line)?.[1];
    if (path && method) {
      routes.set(fn, [...(routes.get(fn) ?? []), `${method} ${path.startsWith('/') ? path : `/${path}`}`]);
      method = '';
    }
  }
  return routes;
}

describe('invoke:rie events', () => {
  it('knows the routes serverless.yml gives greet, status and instances (and rpc without its catch-all)', () => {
    const yml = serverlessRoutes();
    for (const [fn, api] of Object.entries(API_ROUTES)) {
      const declared = yml.get(fn) ?? [];
      assert.deepEqual(
        api.routes,
        declared.filter((r) => !r.startsWith('* ')),
        `${fn}: ${declared.join(', ')}`,
      );
    }
  });

  it('has a default event for each function but rpc, REST ones with their resource', () => {
    assert.deepEqual([...FUNCTIONS_WITH_DEFAULTS].sort(), ['greet', 'healthSync', 'instances', 'status']);
    const list = eventFor('instances', undefined) as Record<string, unknown>;
    assert.equal(list.resource, '/instances');
    assert.deepEqual(list.queryStringParameters, { service: 'ephemeral-job' });
    assert.equal((eventFor('greet', undefined) as { routeKey: string }).routeKey, 'GET /hello/{name}');
    assert.deepEqual(eventFor('healthSync', undefined), { dryRun: true });
  });

  it('turns a request into the event of the route it matches: path parameters, JSON body as text with its content type', () => {
    const del = requestEvent('instances', { method: 'delete', path: '/instances/ephemeral-job-1', headers: { 'x-lease-token': 't' } });
    assert.equal(del.resource, '/instances/{id}');
    assert.equal(del.httpMethod, 'DELETE');
    assert.deepEqual(del.pathParameters, { id: 'ephemeral-job-1' });
    assert.deepEqual(del.headers, { 'x-lease-token': 't' });
    const post = requestEvent('greet', { method: 'POST', path: '/greet', body: { name: 'Grace' } });
    assert.equal(post.routeKey, 'POST /greet');
    assert.equal(post.body, '{"name":"Grace"}');
    assert.deepEqual(post.headers, { 'content-type': 'application/json' });
    assert.deepEqual((post.requestContext as { http: { method: string } }).http.method, 'POST');
    assert.throws(() => requestEvent('status', { method: 'POST', path: '/status' }), /no route of status; its routes: GET \/status/);
    assert.throws(() => requestEvent('greet', { path: '/hello/' }), /no route/);
  });

  it('sends a whole event as given and refuses JSON it cannot read', () => {
    const event = { resource: '/status', path: '/status', httpMethod: 'GET', extra: 1 };
    assert.deepEqual(eventFor('status', JSON.stringify(event)), event);
    assert.throws(() => eventFor('greet', '{"path":'), /--data is not valid JSON/);
    assert.throws(() => eventFor('rpc', undefined), /no default event for "rpc"/);
  });
});
