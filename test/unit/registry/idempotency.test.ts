import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  claimIdempotencyKey,
  IDEMPOTENCY_KEY_FORMAT,
  IDEMPOTENCY_PREFIX,
  idempotencyKvKey,
  releaseIdempotencyKey,
  requestHash,
  type IdempotencyRecord,
} from '../../../lib/registry/idempotency';
import { RegistryError } from '../../../lib/registry/errors';
import { FakeConsul } from '../helpers/fake-consul';

const NOW = 1_700_000_000_000;
const KEY = idempotencyKvKey('digest-of-caller-and-key');
const record = (id: string, extra: Partial<IdempotencyRecord> = {}): IdempotencyRecord => ({ id, service: 'ephemeral-job', requestHash: 'h1', expiresAt: NOW + 60_000, createdAt: NOW, ...extra });
const exists = async () => true;
const stored = (consul: FakeConsul) => JSON.parse(consul.kv.get(KEY)?.value ?? 'null') as IdempotencyRecord | null;

describe('idempotencyKvKey', () => {
  it('is the prefix and a SHA-256 of the keyed digest, never the digest itself', () => {
    assert.match(KEY, new RegExp(`^${IDEMPOTENCY_PREFIX}[0-9a-f]{64}$`));
    assert.equal(idempotencyKvKey('digest-of-caller-and-key'), KEY);
    assert.notEqual(idempotencyKvKey('another digest'), KEY);
    assert.equal(KEY.includes('digest-of-caller-and-key'), false);
  });
});

describe('IDEMPOTENCY_KEY_FORMAT', () => {
  it('accepts 16–128 letters, digits and _ . : - only', () => {
    assert.equal(IDEMPOTENCY_KEY_FORMAT.test('a'.repeat(16)), true);
    assert.equal(IDEMPOTENCY_KEY_FORMAT.test('Aa0_.:-'.repeat(18).slice(0, 128)), true);
    assert.equal(IDEMPOTENCY_KEY_FORMAT.test('a'.repeat(15)), false);
    assert.equal(IDEMPOTENCY_KEY_FORMAT.test('a'.repeat(129)), false);
    assert.equal(IDEMPOTENCY_KEY_FORMAT.test(`${'a'.repeat(16)}/`), false);
  });
});

describe('requestHash', () => {
  it('ignores key order and undefined fields', () => {
    assert.equal(requestHash({ a: 1, b: { c: 'x', d: [1, 2] } }), requestHash({ b: { d: [1, 2], c: 'x' }, a: 1, e: undefined }));
  });

  it('differs when a value or the order of a list differs', () => {
    const base = requestHash({ a: 1, tags: ['x', 'y'] });
    assert.notEqual(requestHash({ a: 2, tags: ['x', 'y'] }), base);
    assert.notEqual(requestHash({ a: 1, tags: ['y', 'x'] }), base);
    assert.notEqual(requestHash({ a: '1', tags: ['x', 'y'] }), base);
  });
});

describe('claimIdempotencyKey', () => {
  it('claims a free key with a write that succeeds only if the key is still absent', async () => {
    const consul = new FakeConsul();
    assert.deepEqual(await claimIdempotencyKey(consul, KEY, record('a-1'), exists, NOW), { claimed: true });
    assert.deepEqual(stored(consul), record('a-1'));
    assert.equal(consul.callsOf('consul.kv.set')[0]?.args.cas, 0);
  });

  it('returns a live record whose instance still exists, without writing', async () => {
    const consul = new FakeConsul();
    consul.putKv(KEY, JSON.stringify(record('first')));
    const asked: string[] = [];
    const result = await claimIdempotencyKey(consul, KEY, record('second'), async (r) => (asked.push(r.id), true), NOW);
    assert.deepEqual(result, { claimed: false, existing: record('first') });
    assert.deepEqual(asked, ['first']);
    assert.equal(consul.callsOf('consul.kv.set').length, 0);
  });

  it('replaces an expired record without asking about its instance', async () => {
    const consul = new FakeConsul();
    consul.putKv(KEY, JSON.stringify(record('old', { expiresAt: NOW })));
    const index = consul.kv.get(KEY)?.modifyIndex;
    const result = await claimIdempotencyKey(consul, KEY, record('new'), async () => assert.fail('an expired record needs no lookup'), NOW);
    assert.deepEqual(result, { claimed: true });
    assert.equal(stored(consul)?.id, 'new');
    assert.equal(consul.callsOf('consul.kv.set')[0]?.args.cas, index, 'replaced only if unchanged since read');
  });

  it('replaces a live record whose instance is gone', async () => {
    const consul = new FakeConsul();
    consul.putKv(KEY, JSON.stringify(record('gone')));
    assert.deepEqual(await claimIdempotencyKey(consul, KEY, record('new'), async () => false, NOW), { claimed: true });
    assert.equal(stored(consul)?.id, 'new');
  });

  it('replaces a corrupt record', async () => {
    const consul = new FakeConsul();
    for (const junk of ['not json', '{"id":1}', '[]']) {
      consul.putKv(KEY, junk);
      assert.deepEqual(await claimIdempotencyKey(consul, KEY, record('new'), exists, NOW), { claimed: true }, junk);
    }
  });

  it('returns the winner of a concurrent claim that wrote between the read and the write', async () => {
    const consul = new FakeConsul();
    let raced = false;
    consul.onCall = (call) => {
      if (call.operation === 'consul.kv.set' && !raced) {
        raced = true;
        consul.putKv(KEY, JSON.stringify(record('winner')));
      }
    };
    const result = await claimIdempotencyKey(consul, KEY, record('loser'), exists, NOW);
    assert.deepEqual(result, { claimed: false, existing: record('winner') });
    assert.equal(stored(consul)?.id, 'winner');
  });

  it('claims on a later attempt after losing a race to a record it may replace', async () => {
    const consul = new FakeConsul();
    let races = 2;
    consul.onCall = (call) => {
      if (call.operation === 'consul.kv.set' && races-- > 0) consul.putKv(KEY, JSON.stringify(record('expired', { expiresAt: NOW - 1 })));
    };
    assert.deepEqual(await claimIdempotencyKey(consul, KEY, record('mine'), exists, NOW), { claimed: true });
    assert.equal(consul.callsOf('consul.kv.set').length, 3);
    assert.equal(stored(consul)?.id, 'mine');
  });

  it('gives up with idempotency_conflict after losing the race three times', async () => {
    const consul = new FakeConsul();
    consul.onCall = (call) => {
      if (call.operation === 'consul.kv.set') consul.putKv(KEY, 'changed under us');
    };
    await assert.rejects(claimIdempotencyKey(consul, KEY, record('mine'), exists, NOW), (err: unknown) => err instanceof RegistryError && err.kind === 'idempotency_conflict' && /retry/.test(err.message));
    assert.equal(consul.callsOf('consul.kv.set').length, 3);
    assert.equal(consul.callsOf('consul.kv.get').length, 3);
  });
});

describe('releaseIdempotencyKey', () => {
  it('deletes the record', async () => {
    const consul = new FakeConsul();
    consul.putKv(KEY, JSON.stringify(record('a')));
    await releaseIdempotencyKey(consul, KEY);
    assert.equal(consul.kv.has(KEY), false);
    assert.deepEqual(consul.callsOf('consul.kv.del').map((c) => c.args), [{ key: KEY, recurse: false }]);
  });
});
