import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GreetError } from '../../../lib/greeter/errors';
import { greetNameFromBody } from '../../../lib/greeter/greet-name';
import { errorResponse } from '../../../lib/http/error-response';
import { RequestError, type RequestErrorKind } from '../../../lib/http/errors';
import { header, MAX_BODY_BYTES, readJsonBody, type HttpEventLike } from '../../../lib/http/event';
import { silentLog } from '../../../lib/log/logger';
import { createAddressPolicy } from '../../../lib/registry/address-policy';
import { RegistryError } from '../../../lib/registry/errors';
import { parseRegistration, type RegistrationPolicy } from '../../../lib/registry/registration-request';

const json = (body: unknown, extra: Partial<HttpEventLike> = {}): HttpEventLike => ({ body, headers: { 'Content-Type': 'application/json' }, ...extra });

function refused(event: HttpEventLike, kind: RequestErrorKind, message: RegExp) {
  assert.throws(
    () => readJsonBody(event),
    (err: unknown) => err instanceof RequestError && err.kind === kind && err.domain === 'request' && message.test(err.message),
  );
}

describe('readJsonBody', () => {
  it('parses a JSON text body', () => {
    assert.deepEqual(readJsonBody(json('{"name":"Grace"}')), { name: 'Grace' });
  });

  it('decodes a base64 body first', () => {
    assert.deepEqual(readJsonBody(json(Buffer.from('{"name":"Linus"}').toString('base64'), { isBase64Encoded: true })), { name: 'Linus' });
  });

  it('takes a value an emulator already parsed', () => {
    assert.deepEqual(readJsonBody(json({ name: 'Ada' })), { name: 'Ada' });
  });

  it('accepts JSON media types with parameters or a +json suffix, and a missing content-type', () => {
    assert.deepEqual(readJsonBody(json('{}', { headers: { 'content-type': 'application/json; charset=utf-8' } })), {});
    assert.deepEqual(readJsonBody(json('{}', { headers: { 'CONTENT-TYPE': 'application/merge-patch+json' } })), {});
    assert.deepEqual(readJsonBody(json('{}', { headers: null })), {});
    assert.deepEqual(readJsonBody({ body: '{}' }), {});
  });

  it('refuses other media types as unsupported', () => {
    refused(json('name=a', { headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 'unsupported_media_type', /application\/json/);
    refused(json('{}', { headers: { 'content-type': 'text/plain' } }), 'unsupported_media_type', /application\/json/);
  });

  it('refuses a body above MAX_BODY_BYTES, counted in UTF-8 bytes, before parsing it', () => {
    const fits = `"${'a'.repeat(MAX_BODY_BYTES - 2)}"`;
    assert.equal(typeof readJsonBody(json(fits)), 'string');
    refused(json(`"${'a'.repeat(MAX_BODY_BYTES - 1)}"`), 'payload_too_large', /at most 16384 bytes/);
    // 6000 characters, 18000 bytes.
    refused(json(`"${'€'.repeat(6_000)}"`), 'payload_too_large', /at most/);
    // Too large wins over a wrong media type or broken JSON: nothing of it is read.
    refused(json(`{${'x'.repeat(20_000)}`, { headers: { 'content-type': 'text/plain' } }), 'payload_too_large', /at most/);
  });

  it('refuses an empty, blank or missing body', () => {
    for (const body of ['', '   \n', undefined, null]) refused(json(body), 'invalid_body', /must be a JSON object/);
  });

  it('refuses text that is not JSON', () => {
    refused(json('{'), 'invalid_body', /not valid JSON/);
    refused(json('{"name":"a",}'), 'invalid_body', /not valid JSON/);
  });
});

// Regression: serverless-offline hands a falsy JSON body (0, false) over as the parsed
// value, which used to reach the schema as "no body" or crash with a TypeError.
describe('readJsonBody with falsy JSON bodies', () => {
  const policy: RegistrationPolicy = { allowedServicePrefixes: ['a-'], address: createAddressPolicy({ allowedCidrs: ['10.0.0.0/8'] }), ttlSeconds: { min: 10, max: 60, default: 30 } };
  const cases: [string, unknown][] = [
    ['the parsed value 0', 0],
    ['the parsed value false', false],
    ['the parsed value -0', -0],
    ['the parsed value null', null],
    ["the text '0'", '0'],
    ["the text 'false'", 'false'],
    ["the text '0.0'", '0.0'],
    ["the text '-0'", '-0'],
  ];

  /** Runs `use` on what readJsonBody made of `body`; returns what was thrown. */
  function thrownBy(body: unknown, use: (parsed: unknown) => unknown): unknown {
    try {
      use(readJsonBody(json(body)));
    } catch (err) {
      return err;
    }
    return assert.fail('a falsy body must be refused');
  }

  for (const [label, body] of cases) {
    it(`refuses ${label} as a greet body with a domain error that answers 400`, () => {
      const err = thrownBy(body, greetNameFromBody);
      assert.ok(err instanceof RequestError || (err instanceof GreetError && err.kind === 'invalid_name'), `got ${String(err)}`);
      assert.equal(errorResponse(err, silentLog).statusCode, 400);
    });

    it(`refuses ${label} as a registration body with a domain error that answers 400`, () => {
      const err = thrownBy(body, (parsed) => parseRegistration(parsed, policy));
      assert.ok(err instanceof RequestError || (err instanceof RegistryError && err.kind === 'invalid_request'), `got ${String(err)}`);
      assert.equal(errorResponse(err, silentLog).statusCode, 400);
    });
  }

  it('reads a falsy body as the value it encodes, or refuses it, never throwing anything but a RequestError', () => {
    for (const [label, body] of cases) {
      try {
        const value = readJsonBody(json(body));
        assert.ok(value === 0 || value === false || Object.is(value, -0), `${label} read as ${String(value)}`);
      } catch (err) {
        assert.ok(err instanceof RequestError, `${label} threw ${String(err)}`);
      }
    }
  });
});

describe('header', () => {
  it('matches names case-insensitively', () => {
    const event: HttpEventLike = { headers: { 'X-Lease-Token': 't', 'idempotency-key': 'k' } };
    assert.equal(header(event, 'x-lease-token'), 't');
    assert.equal(header(event, 'Idempotency-Key'), 'k');
  });

  it('returns undefined for a missing header or no headers at all', () => {
    assert.equal(header({ headers: { a: '1' } }, 'b'), undefined);
    assert.equal(header({ headers: null }, 'a'), undefined);
    assert.equal(header({}, 'a'), undefined);
  });
});
