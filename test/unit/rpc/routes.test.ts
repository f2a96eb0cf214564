import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadDescriptors, shippedDescriptors } from '../../../lib/rpc/descriptors';
import { buildRouteTable } from '../../../lib/rpc/routes';

const d = shippedDescriptors();
const routes = buildRouteTable(d);

describe('shipped descriptors', () => {
  it('hold the Greeter, Echo and the google.rpc status types, read once per process', () => {
    assert.equal(shippedDescriptors(), d);
    assert.ok(d.method('helloworld.Greeter', 'SayHello'));
    assert.ok(d.method('echo.v1.Echo', 'Say'));
    assert.equal(d.method('echo.v1.Echo', 'Nope'), undefined);
    assert.equal(d.method('no.Such', 'Say'), undefined);
    for (const t of ['google.rpc.Status', 'google.rpc.ErrorInfo', 'google.rpc.BadRequest', 'google.protobuf.Timestamp'])
      assert.ok(d.registry.getMessage(t), t);
  });

  it('mark only NO_SIDE_EFFECTS and IDEMPOTENT methods idempotent', () => {
    const idempotent = d
      .methods()
      .filter((m) => m.idempotent)
      .map((m) => m.name);
    assert.deepEqual(idempotent, ['echo.v1.Echo/Get', 'echo.v1.Echo/Update', 'helloworld.Greeter/SayHello']);
    assert.equal(d.method('echo.v1.Echo', 'Fail')?.idempotent, false);
  });

  it('refuse a descriptor set that is not one', () => {
    assert.throws(() => loadDescriptors(Buffer.from('not a descriptor set').toString('base64')));
  });
});

describe('route table', () => {
  it('routes POST /rpc/{service}/{method} to any method, POST only', () => {
    const m = routes.match('POST', '/rpc/helloworld.Greeter/SayHello');
    assert.equal(m?.method.name, 'helloworld.Greeter/SayHello');
    assert.equal(m?.body, '*');
    assert.equal(routes.match('GET', '/rpc/helloworld.Greeter/SayHello'), undefined);
    assert.equal(routes.match('POST', '/rpc/helloworld.Greeter/SayHello/x'), undefined);
    assert.equal(routes.match('POST', '/rpc/helloworld.Greeter'), undefined);
    assert.equal(routes.match('POST', '/rpc/no.Such/Method'), undefined);
  });

  it('routes the annotated templates, additional bindings included', () => {
    assert.equal(routes.match('POST', '/v1/echo:say')?.method.name, 'echo.v1.Echo/Say');
    const get = routes.match('GET', '/v1/rooms/lobby');
    assert.deepEqual([get?.method.name, get?.pathParams, get?.body], ['echo.v1.Echo/Get', { name: 'rooms/lobby' }, '']);
    const put = routes.match('PUT', '/v1/users/ada/echo');
    assert.deepEqual([put?.method.name, put?.pathParams, put?.body], ['echo.v1.Echo/Update', { user_id: 'ada' }, 'nested']);
    const post = routes.match('POST', '/v1/groups/g1/echo');
    assert.deepEqual([post?.method.name, post?.pathParams, post?.body], ['echo.v1.Echo/Update', { group_id: 'g1' }, '*']);
    assert.equal(routes.match('DELETE', '/v1/rooms/lobby'), undefined);
    assert.equal(routes.match('GET', '/v1/halls/lobby'), undefined);
    assert.ok(routes.describe().includes('GET /v1/{name=rooms/*} → echo.v1.Echo/Get'));
  });
});
