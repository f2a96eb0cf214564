import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RPC_KEYS } from '../../../lib/rpc/rpc-config';
import { defaultConsulService, routeQuery, serviceMapProblem, serviceRoute } from '../../../lib/rpc/service-map';

describe('gRPC service → Consul service map', () => {
  it('defaults to the kebab-case simple name, plaintext, any tag, the local datacenter', () => {
    assert.equal(defaultConsulService('helloworld.Greeter'), 'greeter');
    assert.equal(defaultConsulService('echo.v1.Echo'), 'echo');
    assert.equal(defaultConsulService('acme.billing.v1.InvoiceService'), 'invoice-service');
    assert.equal(defaultConsulService('acme.HTTPGateway'), 'http-gateway');
    assert.deepEqual(serviceRoute('{}', 'echo.v1.Echo'), {
      service: 'echo',
      tag: '',
      datacenter: '',
      failoverDatacenters: [],
      transport: 'plaintext',
      tlsServerName: '',
    });
    assert.deepEqual(routeQuery(serviceRoute('', 'echo.v1.Echo')), { service: 'echo' });
  });

  it('takes the per-service settings named like the Greeter keys', () => {
    const raw = JSON.stringify({
      'echo.v1.Echo': { service: 'echo-native', tag: 'blue', datacenter: 'dc1', failoverDatacenters: ['dc2'], transport: 'connect' },
    });
    assert.deepEqual(routeQuery(serviceRoute(raw, 'echo.v1.Echo')), {
      service: 'echo-native',
      tag: 'blue',
      datacenter: 'dc1',
      failover: ['dc2'],
      connect: true,
    });
    assert.equal(serviceRoute(raw, 'helloworld.Greeter').service, 'greeter');
  });

  it('refuses a bad map in K/V, naming the entry', () => {
    assert.equal(serviceMapProblem('{"echo.v1.Echo":{"service":"echo"}}'), undefined);
    assert.match(serviceMapProblem('[') ?? '', /JSON object/);
    assert.match(serviceMapProblem('{"echo.v1.Echo":{"service":"Bad Name"}}') ?? '', /echo\.v1\.Echo\.service/);
    assert.match(serviceMapProblem('{"echo.v1.Echo":{"transport":"udp"}}') ?? '', /transport/);
    assert.match(serviceMapProblem('{"echo.v1.Echo":{"servce":"echo"}}') ?? '', /servce|unrecognized/i);
    assert.equal(RPC_KEYS.rpcServices.schema.safeParse('{"Echo":{}}').success, false);
    assert.equal(RPC_KEYS.rpcServices.schema.safeParse('{"echo.v1.Echo":{}}').success, true);
  });
});
