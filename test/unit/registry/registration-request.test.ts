import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAddressPolicy } from '../../../lib/registry/address-policy';
import { RegistryError } from '../../../lib/registry/errors';
import { newInstanceId, parseInstanceId, parseRegistration, type RegistrationPolicy } from '../../../lib/registry/registration-request';

const policy: RegistrationPolicy = {
  allowedServicePrefixes: ['a-', 'b-'],
  address: createAddressPolicy({ allowedCidrs: ['10.0.0.0/8', '169.254.0.0/16', 'fd00::/8'] }),
  ttlSeconds: { min: 10, max: 3600, default: 60 },
};
const base = { service: 'a-job', address: '10.1.2.3', port: 8080 };

const parse = (body: unknown) => parseRegistration(body, policy);

function rejects(body: unknown, message: RegExp) {
  assert.throws(
    () => parse(body),
    (err: unknown) => err instanceof RegistryError && err.kind === 'invalid_request' && message.test(err.message),
  );
}

const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));

describe('parseRegistration', () => {
  it('accepts the minimal body and fills in the defaults', () => {
    assert.deepEqual(parse(base), { ...base, tags: [], meta: {}, ttlSeconds: 60, check: { type: 'ttl' } });
  });

  it('accepts every optional field at its limits', () => {
    const tags = Array.from({ length: 16 }, (_, i) => `t${i}-${'x'.repeat(58)}`.slice(0, 64));
    const meta = { ...many(63), [`K_-${'z'.repeat(125)}`]: 'é'.repeat(256) };
    const reg = parse({ ...base, tags, meta, ttl: '2m', check: { type: 'ttl' } });
    assert.deepEqual(reg.tags, tags);
    assert.deepEqual(reg.meta, meta);
    assert.equal(reg.ttlSeconds, 120);
    assert.deepEqual(reg.check, { type: 'ttl' });
  });

  it('rejects a body that is not an object', () => {
    for (const b of [null, [], 'x', 42, undefined]) rejects(b, /body must be a JSON object/);
  });

  it('rejects unknown fields, naming them, even when another field is also wrong', () => {
    rejects({ ...base, admin: true }, /unknown field.*admin/);
    rejects({ service: 'a-job', address: '10.1.2.3', prot: 8080 }, /unknown field.*prot/);
    rejects(JSON.parse('{"service":"a-job","address":"10.1.2.3","port":1,"__proto__":{"x":1}}'), /unknown field.*__proto__/);
  });

  it('requires service, address and port', () => {
    rejects({ address: '10.1.2.3', port: 1 }, /service is required/);
    rejects({ service: 'a-job', port: 1 }, /address is required/);
    rejects({ service: 'a-job', address: '10.1.2.3' }, /port is required/);
  });

  it('rejects a service that is not a DNS-style name', () => {
    for (const s of ['A-job', 'a_job', 'a-', '-a', `a-${'x'.repeat(62)}`, 'a-jöb', ''])
      rejects({ ...base, service: s }, /service must be 1–63/);
    rejects({ ...base, service: 7 }, /service must be a string/);
  });

  it('rejects a service outside the allowed prefixes, listing them', () => {
    assert.equal(parse({ ...base, service: 'b-x' }).service, 'b-x');
    rejects({ ...base, service: 'c-job' }, /^service must start with one of: a-, b-$/);
  });

  it('rejects addresses the address policy denies, naming the field and the rule', () => {
    rejects({ ...base, address: 'example.com' }, /^address rejected: .*literal/);
    rejects({ ...base, address: '8.8.8.8' }, /^address rejected: .*allowed CIDR/);
    rejects({ ...base, address: '169.254.169.254' }, /^address rejected: .*instance-metadata/);
    rejects({ ...base, address: 42 }, /address must be a string/);
  });

  it('registers the canonical form of the address', () => {
    assert.equal(parse({ ...base, address: '::ffff:10.9.8.7' }).address, '10.9.8.7');
    assert.equal(parse({ ...base, address: 'FD00:0:0::1' }).address, 'fd00::1');
  });

  it('registers ::1 in any spelling under allowLoopback when ::1/128 is an allowed CIDR, and says what is missing when it is not', () => {
    const loopback = (allowedCidrs: string[]): RegistrationPolicy => ({
      ...policy,
      address: createAddressPolicy({ allowedCidrs, allowLoopback: true }),
    });
    for (const address of ['::1', '0:0:0:0:0:0:0:1', '::0:1']) {
      assert.equal(parseRegistration({ ...base, address }, loopback(['127.0.0.0/8', '::1/128'])).address, '::1');
      assert.throws(
        () => parseRegistration({ ...base, address }, loopback(['127.0.0.0/8'])),
        (err: unknown) =>
          err instanceof RegistryError &&
          /^address rejected: not inside any allowed CIDR \(.*add ::1\/128 to allowedCidrs\)$/.test(err.message),
      );
    }
    assert.equal(parseRegistration({ ...base, address: '127.0.0.1' }, loopback(['127.0.0.0/8', '::1/128'])).address, '127.0.0.1');
  });

  it('accepts ports 1–65535 and rejects the rest', () => {
    assert.equal(parse({ ...base, port: 1 }).port, 1);
    assert.equal(parse({ ...base, port: 65535 }).port, 65535);
    for (const p of [0, 65536, -1]) rejects({ ...base, port: p }, /port must be 1–65535/);
    rejects({ ...base, port: 80.5 }, /port must be an integer/);
    for (const p of ['8080', null]) rejects({ ...base, port: p }, /port must be a number/);
  });

  it('rejects 17 tags, empty, long or non-string tags and control characters', () => {
    rejects({ ...base, tags: Array.from({ length: 17 }, (_, i) => `t${i}`) }, /tags must hold at most 16/);
    rejects({ ...base, tags: ['ok', ''] }, /tags\[1\] must be 1–64 characters/);
    rejects({ ...base, tags: ['x'.repeat(65)] }, /tags\[0\] must be 1–64/);
    rejects({ ...base, tags: ['a\nb'] }, /tags\[0\] must not contain control, .*U\+000A/);
    rejects({ ...base, tags: 'batch' }, /tags must be an array of strings/);
    rejects({ ...base, tags: [1] }, /tags must be an array of strings/);
  });

  it('refuses zero-width, bidi and other invisible characters in tags, as names do', () => {
    const hidden: [string, string][] = [
      ['\u200b', '200B'], // zero-width space
      ['\u200c', '200C'], // zero-width non-joiner
      ['\u200d', '200D'], // zero-width joiner
      ['\u2060', '2060'], // word joiner
      ['\ufeff', 'FEFF'], // BOM
      ['\u200e', '200E'], // left-to-right mark
      ['\u200f', '200F'], // right-to-left mark
      ['\u202e', '202E'], // right-to-left override
      ['\u2066', '2066'], // left-to-right isolate
      ['\u2069', '2069'], // pop directional isolate
      ['\u00ad', '00AD'], // soft hyphen
      ['\u00a0', '00A0'], // no-break space, looks like a space
      ['\u2028', '2028'], // line separator
      ['\ue000', 'E000'], // private use
    ];
    for (const [ch, code] of hidden) {
      rejects(
        { ...base, tags: ['ok', `prod${ch}`] },
        new RegExp(`tags\\[1\\] must not contain control, zero-width, bidi .*U\\+${code} at character 5`),
      );
    }
    // What stays allowed: letters beyond ASCII, emoji and the plain space.
    assert.deepEqual(parse({ ...base, tags: ['région', 'blue green', '😀'] }).tags, ['région', 'blue green', '😀']);
  });

  it('counts tag length in characters, not UTF-16 units', () => {
    assert.deepEqual(parse({ ...base, tags: ['😀'.repeat(64)] }).tags, ['😀'.repeat(64)]);
  });

  it('rejects 65 meta keys, bad keys, non-string and oversized values', () => {
    assert.equal(Object.keys(parse({ ...base, meta: many(64) }).meta).length, 64);
    rejects({ ...base, meta: many(65) }, /meta must hold at most 64 keys/);
    rejects({ ...base, meta: { 'bad key': 'v' } }, /meta key "bad key" must be 1–128/);
    rejects({ ...base, meta: { ['k'.repeat(129)]: 'v' } }, /meta key .* must be 1–128/);
    rejects({ ...base, meta: { '': 'v' } }, /meta key "" must be 1–128/);
    rejects({ ...base, meta: { owner: 1 } }, /meta\.owner must be a string/);
    rejects({ ...base, meta: { owner: 'é'.repeat(257) } }, /meta\.owner must be at most 512 bytes/);
    rejects({ ...base, meta: ['x'] }, /meta must be an object/);
    rejects({ ...base, meta: null }, /meta must be an object/);
    rejects(JSON.parse('{"service":"a-job","address":"10.1.2.3","port":1,"meta":{"__proto__":"x"}}'), /__proto__/);
  });

  it('rejects reserved meta prefixes in any case', () => {
    for (const k of ['lease-check', 'consul-network-segment', 'Lease-ttl-seconds', 'CONSUL-x'])
      rejects({ ...base, meta: { [k]: 'x' } }, /reserved/);
    assert.deepEqual(parse({ ...base, meta: { leased: 'x', consul_ok: 'y' } }).meta, { leased: 'x', consul_ok: 'y' });
  });

  it('reads ttl as whole seconds or minutes within the policy bounds', () => {
    assert.equal(parse({ ...base, ttl: '10s' }).ttlSeconds, 10);
    assert.equal(parse({ ...base, ttl: '60m' }).ttlSeconds, 3600);
    rejects({ ...base, ttl: '9s' }, /ttl must be between 10s and 3600s/);
    rejects({ ...base, ttl: '61m' }, /ttl must be between 10s and 3600s/);
    rejects({ ...base, ttl: '0s' }, /ttl must be between/);
  });

  it('rejects ttl in any other format', () => {
    for (const t of ['30', '1h', '1.5m', '-30s', '30S', ' 30s', '1m30s', '']) rejects({ ...base, ttl: t }, /ttl must be a duration/);
    rejects({ ...base, ttl: 30 }, /ttl must be a string/);
  });

  it('accepts a gRPC check with an optional health service name', () => {
    assert.deepEqual(parse({ ...base, check: { type: 'grpc' } }).check, { type: 'grpc', service: '' });
    assert.deepEqual(parse({ ...base, check: { type: 'grpc', service: 'grpc.health.v1.Health' } }).check, {
      type: 'grpc',
      service: 'grpc.health.v1.Health',
    });
    assert.deepEqual(parse({ ...base, check: { type: 'grpc', service: 'x'.repeat(128) } }).check, {
      type: 'grpc',
      service: 'x'.repeat(128),
    });
  });

  it('rejects bad checks, naming the field', () => {
    rejects({ ...base, check: { type: 'http' } }, /check\.type must be "ttl" or "grpc"/);
    rejects({ ...base, check: {} }, /check\.type must be/);
    rejects({ ...base, check: 'grpc' }, /check must be a JSON object/);
    rejects({ ...base, check: { type: 'ttl', interval: '10s' } }, /check has unknown field.*interval/);
    rejects({ ...base, check: { type: 'grpc', url: 'x' } }, /check has unknown field.*url/);
    rejects({ ...base, check: { type: 'grpc', service: 'x'.repeat(129) } }, /check\.service must be at most 128/);
    rejects({ ...base, check: { type: 'grpc', service: 'a\nb' } }, /check\.service/);
    rejects({ ...base, check: { type: 'grpc', interval: '5s' } }, /check has unknown field.*interval/);
  });
});

describe('instance ids', () => {
  const fixed = (n: number) => Buffer.alloc(n, 0xab);

  it('are the service name, a dash and 16 random hex digits', () => {
    assert.equal(newInstanceId('a-job', fixed), 'a-job-abababababababab');
    assert.match(newInstanceId('a-job'), /^a-job-[0-9a-f]{16}$/);
    assert.notEqual(newInstanceId('a-job'), newInstanceId('a-job'));
  });

  it('cut long service names so the id stays within 80 characters', () => {
    const id = newInstanceId('s'.repeat(70), fixed);
    assert.equal(id.length, 80);
    assert.equal(parseInstanceId(id), id);
  });

  it('refuse an unvalidated service name or a short random source', () => {
    assert.throws(() => newInstanceId('Bad Name', fixed), /validated service name/);
    assert.throws(() => newInstanceId('a-job', () => Buffer.alloc(4)), /8 bytes/);
  });

  it('parse back when well-formed and are refused as an invalid request otherwise', () => {
    assert.equal(parseInstanceId('a-job-0123456789abcdef'), 'a-job-0123456789abcdef');
    const bad = (raw: unknown, message: RegExp) =>
      assert.throws(
        () => parseInstanceId(raw),
        (err: unknown) => err instanceof RegistryError && err.kind === 'invalid_request' && message.test(err.message),
      );
    bad(undefined, /id is required/);
    bad('', /id is required/);
    for (const raw of [
      'a-job',
      'a-job-0123456789ABCDEF',
      'a-job-0123456789abcde',
      `${'s'.repeat(64)}-0123456789abcdef`,
      '../x-0123456789abcdef',
      'a_job-0123456789abcdef',
      42,
    ])
      bad(raw, /id must be an instance id/);
  });
});
