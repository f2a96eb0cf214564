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

const json = (body: unknown, extra: Partial<HttpEventLike> = {}): HttpEventLike => ({
  body,
  headers: { 'Content-Type': 'application/json' },
  ...extra,
});

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
    refused(
      json('name=a', { headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      'unsupported_media_type',
      /application\/json/,
    );
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

// Security review: JSON.parse keeps the last of two equal keys, so a body could show one service
// to whatever reads it first (a log, a WAF rule) and register another.
describe('readJsonBody with duplicate keys', () => {
  const dup = (body: string, message: RegExp) => refused(json(body), 'invalid_body', message);

  it('refuses a duplicate top-level key, naming it', () => {
    dup('{"service":"ephemeral-x","address":"10.0.0.1","port":1,"service":"greeter"}', /^duplicate key "service" in body$/);
    dup('{"a":1,"a":1}', /^duplicate key "a" in body$/);
  });

  it('treats escaped spellings of a key as that key', () => {
    dup('{"service":"ephemeral-x","\\u0073ervice":"greeter"}', /^duplicate key "service" in body$/);
    dup('{"\\u0073\\u0065rvice":"ephemeral-x","servic\\u0065":"greeter"}', /^duplicate key "service" in body$/);
    dup('{"a\\/b":1,"a/b":2}', /^duplicate key "a\/b" in body$/);
    dup('{"\\ud83d\\ude00":1,"\u{1F600}":2}', /^duplicate key "\u{1F600}" in body$/u);
    dup('{"__proto__":1,"\\u005f_proto__":2}', /^duplicate key "__proto__" in body$/);
  });

  it('refuses duplicates at any depth, naming where', () => {
    dup('{"meta":{"owner":"a","owner":"b"}}', /^duplicate key "owner" in body\.meta$/);
    dup('{"check":{"type":"grpc","type":"ttl"}}', /^duplicate key "type" in body\.check$/);
    dup('[{"a":1},{"b":1,"b":2}]', /^duplicate key "b" in body\[1\]$/);
    dup('{"x":[[],[{"y":{"z":1,"z":2}}]]}', /^duplicate key "z" in body\.x\[1\]\[0\]\.y$/);
    dup('{"a b":{"k":1,"k":1}}', /^duplicate key "k" in body\["a b"\]$/);
    dup('{"a":"}{[,:\\"","a,b":1,"a":2}', /^duplicate key "a" in body$/);
    dup('{"a\\\\":1,"b":{},"a\\\\":2}', /^duplicate key "a\\\\" in body$/);
    dup('{"":1,"":2}', /^duplicate key "" in body$/);
  });

  it('keeps equal keys in different objects, and strings that only look like keys', () => {
    assert.deepEqual(readJsonBody(json('{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]}')), { a: { a: { a: 1 } }, b: [{ a: 1 }, { a: 2 }] });
    assert.deepEqual(readJsonBody(json('{"a":"\\"a\\":1,\\"a\\":2","b":"{\\"c\\":1,\\"c\\":2}","c":["a","a"]}')), {
      a: '"a":1,"a":2',
      b: '{"c":1,"c":2}',
      c: ['a', 'a'],
    });
    assert.deepEqual(readJsonBody(json(' { "a" : 1 , "A" : 2 , "a " : 3 } ')), { a: 1, A: 2, 'a ': 3 });
    assert.deepEqual(readJsonBody(json('{"\\\\":1,"\\"":2,"":3}')), { '\\': 1, '"': 2, '': 3 });
  });

  it('names a long or odd key readably and briefly', () => {
    const long = 'k'.repeat(5_000);
    refused(json(`{"${long}":1,"${long}":2}`), 'invalid_body', /^duplicate key "k{40}…" in body$/);
    dup('{"a\\nb":1,"a\\u000ab":2}', /^duplicate key "a\\nb" in body$/);
  });

  it('still checks the size first, and reports broken JSON as broken, not as a duplicate', () => {
    refused(json(`{"a":1,"a":2,"pad":"${'x'.repeat(MAX_BODY_BYTES)}"}`), 'payload_too_large', /at most/);
    refused(json('{"a":1,"a":2'), 'invalid_body', /not valid JSON/);
  });

  it('reaches a registration only when no key is repeated', () => {
    const policy: RegistrationPolicy = {
      allowedServicePrefixes: ['ephemeral-'],
      address: createAddressPolicy({ allowedCidrs: ['10.0.0.0/8'] }),
      ttlSeconds: { min: 10, max: 60, default: 30 },
    };
    const body = '{"service":"ephemeral-x","address":"10.0.0.1","port":1,"\\u0073ervice":"ephemeral-y"}';
    assert.throws(
      () => parseRegistration(readJsonBody(json(body)), policy),
      (err: unknown) => err instanceof RequestError && err.kind === 'invalid_body',
    );
    assert.equal(errorResponse(new RequestError('invalid_body', 'duplicate key "service" in body'), silentLog).statusCode, 400);
  });
});

// Regression: serverless-offline hands a falsy JSON body (0, false) over as the parsed
// value, which used to reach the schema as "no body" or crash with a TypeError.
describe('readJsonBody with falsy JSON bodies', () => {
  const policy: RegistrationPolicy = {
    allowedServicePrefixes: ['a-'],
    address: createAddressPolicy({ allowedCidrs: ['10.0.0.0/8'] }),
    ttlSeconds: { min: 10, max: 60, default: 30 },
  };
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
