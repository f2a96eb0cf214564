// Contract with grpc-js's resolver listener API (changed in 1.14): if grpc-js is
// upgraded and the shape moves, this fails before any channel misbehaves.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { experimental } from '@grpc/grpc-js';
import { createEndpointReporter, toEndpoints } from '../../../lib/grpc/resolver-listener';

const inst = { id: 'a', service: 'greeter', address: '127.0.0.1', port: 50051, tags: [], meta: {}, node: 'n' };

describe('resolver listener adapter (grpc-js 1.14 contract)', () => {
  it('grpc-js still exports the resolver API we use', () => {
    assert.equal(typeof experimental.registerResolver, 'function');
    assert.equal(typeof experimental.statusOrFromValue, 'function');
    assert.deepEqual(experimental.statusOrFromValue([1]), { ok: true, value: [1] });
  });
  it('calls the listener as a function with StatusOr endpoints, attributes, null service config and a note', () => {
    const calls: unknown[][] = [];
    const listener: experimental.ResolverListener = (...args) => {
      calls.push(args);
      return true;
    };
    assert.equal(createEndpointReporter(listener)([inst]), true);
    assert.deepEqual(calls[0], [{ ok: true, value: [{ addresses: [{ host: '127.0.0.1', port: 50051 }] }] }, {}, null, '']);
  });
  it('reports an empty list with a note so calls fail fast', () => {
    let note = '';
    createEndpointReporter((_e, _a, _s, n) => {
      note = n;
      return true;
    })([]);
    assert.match(note, /no passing instance/);
    assert.deepEqual(toEndpoints([]), []);
  });
  it('passes a service config on as StatusOr, and null when there is none', () => {
    const configs: unknown[] = [];
    const report = createEndpointReporter((_e, _a, config) => {
      configs.push(config);
      return true;
    });
    const serviceConfig = { loadBalancingConfig: [{ round_robin: {} }], methodConfig: [] };
    report([inst], serviceConfig);
    report([inst]);
    assert.deepEqual(configs, [{ ok: true, value: serviceConfig }, null]);
  });
});
