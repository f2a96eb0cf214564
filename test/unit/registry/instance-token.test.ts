import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { ConfigError } from '../../../lib/config/errors';
import { createInstanceTokenSigner } from '../../../lib/registry/instance-token';

const KEY = 'k'.repeat(32);
const OLD_KEY = Buffer.alloc(32, 7);
const ID = 'a-job-0123456789abcdef';

describe('createInstanceTokenSigner', () => {
  it('signs as v1. + base64url HMAC-SHA256 over "v1\\nid\\nservice"', () => {
    const expected = createHmac('sha256', KEY).update(`v1\n${ID}\na-job`).digest('base64url');
    assert.equal(createInstanceTokenSigner(KEY).sign(ID, 'a-job'), `v1.${expected}`);
  });

  it('verifies its own tokens, from a string or a Buffer key alike', () => {
    const signer = createInstanceTokenSigner(KEY);
    assert.equal(signer.verify(signer.sign(ID, 'a-job'), ID, 'a-job'), true);
    assert.equal(createInstanceTokenSigner(Buffer.from(KEY)).verify(signer.sign(ID, 'a-job'), ID, 'a-job'), true);
  });

  it('rejects a token signed with another key', () => {
    const token = createInstanceTokenSigner('x'.repeat(32)).sign(ID, 'a-job');
    assert.equal(createInstanceTokenSigner(KEY).verify(token, ID, 'a-job'), false);
  });

  it('rejects a token for another id or another service', () => {
    const signer = createInstanceTokenSigner(KEY);
    const token = signer.sign(ID, 'a-job');
    assert.equal(signer.verify(token, 'a-job-fedcba9876543210', 'a-job'), false);
    assert.equal(signer.verify(token, ID, 'a-other'), false);
  });

  it('rejects tampered tokens, including changes base64 decoding would ignore', () => {
    const signer = createInstanceTokenSigner(KEY);
    const token = signer.sign(ID, 'a-job');
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    for (const i of [3, 10, token.length - 1]) assert.equal(signer.verify(flip(token, i), ID, 'a-job'), false, `changed at ${i}`);
    // The last of 43 characters carries 2 spare bits: this twin decodes to the very same MAC bytes.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const twin = token.slice(0, -1) + alphabet[alphabet.indexOf(token.slice(-1)) ^ 1];
    assert.deepEqual(Buffer.from(twin.slice(3), 'base64url'), Buffer.from(token.slice(3), 'base64url'));
    assert.equal(signer.verify(twin, ID, 'a-job'), false);
    assert.equal(signer.verify(`v2.${token.slice(3)}`, ID, 'a-job'), false);
    assert.equal(signer.verify(`${token}=`, ID, 'a-job'), false);
    assert.equal(signer.verify(token.slice(0, -1), ID, 'a-job'), false);
    assert.equal(signer.verify(`${token.slice(0, -2)}é`, ID, 'a-job'), false);
  });

  it('returns false, never throws, for missing or malformed tokens', () => {
    const signer = createInstanceTokenSigner(KEY);
    for (const t of [undefined, '', 'v1.', 'v1', 'garbage', 'x'.repeat(10_000), null, 42] as unknown as (string | undefined)[]) {
      assert.equal(signer.verify(t, ID, 'a-job'), false);
    }
  });

  it('keeps id and service apart, refusing newlines that would blur them', () => {
    const signer = createInstanceTokenSigner(KEY);
    assert.throws(() => signer.sign('a\nb', 'c'), /newlines/);
    assert.equal(signer.verify(signer.sign('a', 'b'), 'a\nb', ''), false);
  });

  it('signs with the first key and still verifies tokens of a previous key', () => {
    const before = createInstanceTokenSigner(OLD_KEY);
    const after = createInstanceTokenSigner(KEY, { previousKeys: [OLD_KEY, 'p'.repeat(40)] });
    const old = before.sign(ID, 'a-job');
    assert.equal(after.verify(old, ID, 'a-job'), true);
    assert.equal(after.verify(old, ID, 'a-other'), false);
    assert.equal(after.sign(ID, 'a-job'), createInstanceTokenSigner(KEY).sign(ID, 'a-job'));
    assert.equal(before.verify(after.sign(ID, 'a-job'), ID, 'a-job'), false);
  });

  it('refuses keys shorter than 32 bytes, explaining how to set one without echoing it', () => {
    const secret = 'hunter2-but-too-short';
    assert.throws(
      () => createInstanceTokenSigner(secret),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.kind === 'invalid_secret' &&
        /at least 32 bytes/.test(err.message) &&
        /REGISTRY_SIGNING_KEY/.test(err.message) &&
        !err.message.includes(secret),
    );
    assert.throws(() => createInstanceTokenSigner(''), /at least 32 bytes \(got 0\)/);
    assert.throws(() => createInstanceTokenSigner(Buffer.alloc(31)), /at least 32 bytes/);
    assert.throws(() => createInstanceTokenSigner(undefined as unknown as string), /at least 32 bytes/);
  });

  it('refuses a short previous key, naming which one', () => {
    assert.throws(() => createInstanceTokenSigner(KEY, { previousKeys: [OLD_KEY, 'short'] }), /previous registry signing key #2/);
  });

  it('counts a string key in UTF-8 bytes', () => {
    assert.doesNotThrow(() => createInstanceTokenSigner('é'.repeat(16)));
  });

  it('is not affected when the caller later overwrites its key buffer', () => {
    const key = Buffer.from(KEY);
    const signer = createInstanceTokenSigner(key);
    const token = signer.sign(ID, 'a-job');
    key.fill(0);
    assert.equal(signer.verify(token, ID, 'a-job'), true);
  });
});
