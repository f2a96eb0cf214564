import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  IDEMPOTENCY_KEY_FORMAT,
  IDEMPOTENCY_PREFIX,
  idempotencyKvKey,
  releaseIdempotencyKey,
  releaseOwnClaim,
  requestHash,
  type IdempotencyRecord,
} from '../../../lib/registry/idempotency';
import { RegistryError } from '../../../lib/registry/errors';
import { FakeConsul } from '../helpers/fake-consul';

const NOW = 1_700_000_000_000;
const KEY = idempotencyKvKey('digest-of-caller-and-key');
const record = (id: string, extra: Partial<IdempotencyRecord> = {}): IdempotencyRecord => ({
  id,
  service: 'ephemeral-job',
  requestHash: 'h1',
  expiresAt: NOW + 60_000,
  createdAt: NOW,
  state: 'done',
  ...extra,
});
const pending = (id: string, extra: Partial<IdempotencyRecord> = {}) =>
  record(id, { state: 'pending', pendingUntil: NOW + 30_000, ...extra });
const exists = async () => true;
const opts = (stillExists: (r: IdempotencyRecord) => Promise<boolean> = exists, waitMs = 2_000) => ({
  stillExists,
  now: () => NOW,
  waitMs,
});
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
  it('claims a free key with a pending record, written only if the key is still absent', async () => {
    const consul = new FakeConsul();
    assert.deepEqual(await claimIdempotencyKey(consul, KEY, pending('a-1'), opts()), { claimed: true });
    assert.deepEqual(stored(consul), pending('a-1'));
    assert.equal(consul.callsOf('consul.kv.set')[0]?.args.cas, 0);
  });

  it('returns a done record whose instance still exists, without writing', async () => {
    const consul = new FakeConsul();
    consul.putKv(KEY, JSON.stringify(record('first')));
    const asked: string[] = [];
    const result = await claimIdempotencyKey(
      consul,
      KEY,
      pending('second'),
      opts(async (r) => (asked.push(r.id), true)),
    );
    assert.deepEqual(result, { claimed: false, existing: record('first') });
    assert.deepEqual(asked, ['first']);
    assert.equal(consul.callsOf('consul.kv.set').length, 0);
  });

  it('reads a record written before pending claims existed (no state) as done', async () => {
    const consul = new FakeConsul();
    const { state: _state, ...old } = record('first');
    consul.putKv(KEY, JSON.stringify(old));
    assert.deepEqual(await claimIdempotencyKey(consul, KEY, pending('second'), opts()), { claimed: false, existing: record('first') });
  });

  it('replaces an expired record without asking about its instance', async () => {
    const consul = new FakeConsul();
    consul.putKv(KEY, JSON.stringify(record('old', { expiresAt: NOW })));
    const index = consul.kv.get(KEY)?.modifyIndex;
    const result = await claimIdempotencyKey(
      consul,
      KEY,
      pending('new'),
      opts(async () => assert.fail('an expired record needs no lookup')),
    );
    assert.deepEqual(result, { claimed: true });
    assert.equal(stored(consul)?.id, 'new');
    assert.equal(consul.callsOf('consul.kv.set')[0]?.args.cas, index, 'replaced only if unchanged since read');
  });

  it('replaces a done record whose instance is gone', async () => {
    const consul = new FakeConsul();
    consul.putKv(KEY, JSON.stringify(record('gone')));
    assert.deepEqual(
      await claimIdempotencyKey(
        consul,
        KEY,
        pending('new'),
        opts(async () => false),
      ),
      { claimed: true },
    );
    assert.equal(stored(consul)?.id, 'new');
  });

  it('replaces a corrupt record', async () => {
    const consul = new FakeConsul();
    for (const junk of ['not json', '{"id":1}', '[]']) {
      consul.putKv(KEY, junk);
      assert.deepEqual(await claimIdempotencyKey(consul, KEY, pending('new'), opts()), { claimed: true }, junk);
    }
  });

  it('never overwrites a pending claim of the same request: waits on the key, then answers with the finished record', async () => {
    const consul = new FakeConsul();
    consul.putKv(KEY, JSON.stringify(pending('winner')));
    let waits = 0;
    consul.onCall = (call) => {
      // The winner finishes its registration while the loser is waiting on the key.
      if (call.operation === 'consul.kv.get' && call.options.blocking === true && ++waits === 2)
        consul.putKv(KEY, JSON.stringify(record('winner')));
    };
    const result = await claimIdempotencyKey(
      consul,
      KEY,
      pending('loser'),
      opts(async (r) => r.id === 'winner'),
    );
    assert.deepEqual(result, { claimed: false, existing: record('winner') });
    assert.equal(consul.callsOf('consul.kv.set').length, 0, 'the pending claim was never overwritten');
    assert.ok(
      consul.callsOf('consul.kv.get').some((c) => c.args.index !== undefined && /ms$/.test(String(c.args.wait))),
      'a blocking query on the key',
    );
  });

  it('gives up waiting on a pending claim after waitMs with idempotency_conflict, writing nothing', async () => {
    const consul = new FakeConsul();
    consul.putKv(KEY, JSON.stringify(pending('slow')));
    const started = Date.now();
    await assert.rejects(
      claimIdempotencyKey(consul, KEY, pending('mine'), opts(exists, 300)),
      (err: unknown) => err instanceof RegistryError && err.kind === 'idempotency_conflict' && /retry/.test(err.message),
    );
    assert.ok(Date.now() - started < 2_000);
    assert.equal(consul.callsOf('consul.kv.set').length, 0);
    assert.equal(stored(consul)?.id, 'slow');
  });

  it('returns at once a pending claim that came with a different request (the caller answers 422)', async () => {
    const consul = new FakeConsul();
    consul.putKv(KEY, JSON.stringify(pending('other', { requestHash: 'h2' })));
    const result = await claimIdempotencyKey(consul, KEY, pending('mine'), opts());
    assert.equal(result.claimed, false);
    assert.equal(!result.claimed && result.existing.requestHash, 'h2');
  });

  it('completes a stale pending claim whose instance was registered after all, instead of registering another', async () => {
    const consul = new FakeConsul();
    consul.putKv(KEY, JSON.stringify(pending('crashed', { pendingUntil: NOW - 1 })));
    const result = await claimIdempotencyKey(
      consul,
      KEY,
      pending('mine'),
      opts(async (r) => r.id === 'crashed'),
    );
    assert.deepEqual(result, { claimed: false, existing: record('crashed') });
    assert.deepEqual(stored(consul), record('crashed'));
  });

  it('takes over a stale pending claim whose instance never appeared', async () => {
    const consul = new FakeConsul();
    consul.putKv(KEY, JSON.stringify(pending('crashed', { pendingUntil: NOW - 1 })));
    assert.deepEqual(
      await claimIdempotencyKey(
        consul,
        KEY,
        pending('mine'),
        opts(async () => false),
      ),
      { claimed: true },
    );
    assert.equal(stored(consul)?.id, 'mine');
  });

  it('after losing the write to a concurrent claim of the same request, waits for it instead of overwriting', async () => {
    const consul = new FakeConsul();
    let raced = false;
    consul.onCall = (call) => {
      if (call.operation === 'consul.kv.set' && !raced) {
        raced = true;
        consul.putKv(KEY, JSON.stringify(pending('winner')));
      }
      if (call.operation === 'consul.kv.get' && call.options.blocking === true) consul.putKv(KEY, JSON.stringify(record('winner')));
    };
    const result = await claimIdempotencyKey(consul, KEY, pending('loser'), opts());
    assert.deepEqual(result, { claimed: false, existing: record('winner') });
    assert.equal(consul.callsOf('consul.kv.set').length, 1);
  });

  it('gives up with idempotency_conflict when every write keeps losing for the whole wait', async () => {
    const consul = new FakeConsul();
    consul.onCall = (call) => {
      if (call.operation === 'consul.kv.set') consul.putKv(KEY, 'changed under us');
    };
    await assert.rejects(
      claimIdempotencyKey(consul, KEY, pending('mine'), opts(exists, 200)),
      (err: unknown) => err instanceof RegistryError && err.kind === 'idempotency_conflict',
    );
    assert.ok(consul.callsOf('consul.kv.set').length >= 1);
  });
});

describe('completeIdempotencyKey', () => {
  it('marks our pending claim done with a check-and-set', async () => {
    const consul = new FakeConsul();
    consul.putKv(KEY, JSON.stringify(pending('mine')));
    const index = consul.kv.get(KEY)?.modifyIndex;
    assert.equal(await completeIdempotencyKey(consul, KEY, pending('mine')), true);
    assert.deepEqual(stored(consul), record('mine'));
    assert.equal(consul.callsOf('consul.kv.set')[0]?.args.cas, index);
  });

  it('says false when another request took the key over', async () => {
    const consul = new FakeConsul();
    consul.putKv(KEY, JSON.stringify(pending('theirs')));
    assert.equal(await completeIdempotencyKey(consul, KEY, pending('mine')), false);
    assert.equal(stored(consul)?.id, 'theirs');
  });
});

describe('releaseOwnClaim', () => {
  it("deletes our pending claim, and leaves anyone else's", async () => {
    const consul = new FakeConsul();
    consul.putKv(KEY, JSON.stringify(pending('theirs')));
    await releaseOwnClaim(consul, KEY, 'mine');
    assert.equal(stored(consul)?.id, 'theirs');
    consul.putKv(KEY, JSON.stringify(pending('mine')));
    await releaseOwnClaim(consul, KEY, 'mine');
    assert.equal(consul.kv.has(KEY), false);
  });
});

describe('releaseIdempotencyKey', () => {
  it('deletes the record', async () => {
    const consul = new FakeConsul();
    consul.putKv(KEY, JSON.stringify(record('a')));
    await releaseIdempotencyKey(consul, KEY);
    assert.equal(consul.kv.has(KEY), false);
    assert.deepEqual(
      consul.callsOf('consul.kv.del').map((c) => c.args),
      [{ key: KEY, recurse: false }],
    );
  });
});
