import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { consulSerial, parseServiceUri, serviceIdentityMismatch, uriSans } from '../../../lib/connect/spiffe';

const TD = '11111111-2222-3333-4444-555555555555.consul';

describe('SPIFFE service identities', () => {
  it('parses a Consul service URI into its parts', () => {
    assert.deepEqual(parseServiceUri(`spiffe://${TD}/ns/default/dc/dc1/svc/greeter`), {
      trustDomain: TD,
      namespace: 'default',
      datacenter: 'dc1',
      service: 'greeter',
    });
    assert.equal(parseServiceUri(`spiffe://${TD}/agent/client/dc/dc1/id/x`), undefined);
  });

  it('reads the URI SANs out of Node subjectaltname strings', () => {
    assert.deepEqual(uriSans(`DNS:greeter, URI:spiffe://${TD}/ns/default/dc/dc1/svc/greeter`), [
      `spiffe://${TD}/ns/default/dc/dc1/svc/greeter`,
    ]);
    assert.deepEqual(uriSans(undefined), []);
  });

  it('accepts the service in the trust domain in any datacenter, and nothing else', () => {
    assert.equal(serviceIdentityMismatch(`URI:spiffe://${TD}/ns/default/dc/dc2/svc/greeter`, TD, 'greeter'), undefined);
    assert.match(
      serviceIdentityMismatch(`URI:spiffe://${TD}/ns/default/dc/dc1/svc/impostor`, TD, 'greeter') ?? '',
      /not a Connect identity of greeter/,
    );
    assert.match(
      serviceIdentityMismatch(`URI:spiffe://other.consul/ns/default/dc/dc1/svc/greeter`, TD, 'greeter') ?? '',
      /not a Connect identity/,
    );
    assert.match(serviceIdentityMismatch('DNS:greeter', TD, 'greeter') ?? '', /URI SANs: none/);
  });

  it('formats a Node serial number as Consul does', () => {
    assert.equal(consulSerial('A1B2C'), '0a:1b:2c');
  });
});
