import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GreetError } from '../../../lib/greeter/errors';
import { greetNameFromBody, parseGreetName, plainlyValidName } from '../../../lib/greeter/greet-name';

/** Asserts `fn` throws GreetError `invalid_name` with a message matching `message`. */
function refused(fn: () => unknown, message: RegExp) {
  assert.throws(
    fn,
    (err: unknown) => err instanceof GreetError && err.kind === 'invalid_name' && err.domain === 'greet' && message.test(err.message),
  );
}

describe('parseGreetName', () => {
  it('accepts 1–128 characters, counting code points', () => {
    assert.equal(parseGreetName('Ada'), 'Ada');
    assert.equal(parseGreetName('😀'.repeat(128)), '😀'.repeat(128));
    assert.equal(parseGreetName('x'), 'x');
  });

  it('refuses empty, too long and control characters', () => {
    refused(() => parseGreetName(''), /empty/);
    refused(() => parseGreetName('a'.repeat(129)), /128/);
    refused(() => parseGreetName('😀'.repeat(129)), /128/);
    refused(() => parseGreetName('a\u0000b'), /control/);
    refused(() => parseGreetName('a\u007fb'), /control/);
  });

  it('refuses a missing name and a name that is not a string', () => {
    refused(() => parseGreetName(undefined), /required/);
    refused(() => parseGreetName(42), /must be a string/);
    refused(() => parseGreetName(null), /must be a string/);
  });

  // Regression: these used to be greeted as an empty-looking name.
  for (const [label, name] of [
    ['one space', ' '],
    ['three spaces', '   '],
    ['a zero-width space', '\u200B'],
    ['a line separator', '\u2028'],
    ['a byte-order mark', '\uFEFF'],
    ['a Hangul filler', '\u3164'],
    ['a blank braille pattern', '\u2800'],
    ['spaces around a zero-width space', ' \u200B '],
    ['a lone combining mark', '\u0301'],
    ['a word joiner between no-break spaces', '\u00A0\u2060\u00A0'],
  ] as const) {
    it(`refuses a name with no visible character: ${label}`, () => {
      refused(() => parseGreetName(name), /visible character|control/);
    });
  }

  it('accepts a name with visible characters and surrounding spaces, as given', () => {
    assert.equal(parseGreetName(' Ada '), ' Ada ');
    assert.equal(parseGreetName('e\u0301'), 'e\u0301');
    assert.equal(parseGreetName('Ada\u200BLovelace'), 'Ada\u200BLovelace');
  });
});

describe('greetNameFromBody', () => {
  it('reads the name of a {"name": …} object', () => {
    assert.equal(greetNameFromBody({ name: 'Grace' }), 'Grace');
  });

  it('refuses bodies that are not an object, naming the expected shape', () => {
    for (const body of [[], null, 0, false, '', 'Grace', 42]) refused(() => greetNameFromBody(body), /JSON object with a "name" string/);
  });

  it('refuses a missing or non-string name', () => {
    refused(() => greetNameFromBody({}), /name is required/);
    refused(() => greetNameFromBody({ name: 42 }), /name must be a string/);
  });

  it('refuses unknown fields, naming them', () => {
    refused(() => greetNameFromBody({ name: 'a', admin: true }), /unknown field.*admin/);
  });

  it('applies the same name rules as the path parameter', () => {
    refused(() => greetNameFromBody({ name: '\u0007' }), /control/);
    refused(() => greetNameFromBody({ name: ' \u200B ' }), /visible character/);
    refused(() => greetNameFromBody({ name: 'a'.repeat(129) }), /128/);
  });
});

describe('plainlyValidName', () => {
  it('admits only what the schema admits: fuzzed names, checked through the body, which always runs the schema', () => {
    // Seeded, so a failure names the same inputs each run.
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const alphabet = ['a', 'Z', '0', ' ', '~', '\u007f', '\u0000', '\t', '\u00a0', '\u200b', '\u0301', 'é', '😀', '\u2800', '\u3164'];
    let admitted = 0;
    for (let n = 0; n < 5000; n++) {
      const length = next() % 135;
      const s = Array.from({ length }, () => alphabet[next() % (n % 3 === 0 ? alphabet.length : 5)]).join('');
      if (!plainlyValidName(s)) continue;
      admitted++;
      assert.equal(greetNameFromBody({ name: s }), s, JSON.stringify(s));
      assert.equal(parseGreetName(s), s);
    }
    assert.ok(admitted > 500, `only ${admitted} fuzzed names were plainly valid`);
  });

  it("leaves to the schema every name it does not admit, so its error is the schema's", () => {
    for (const s of ['', ' ', '   ', 'a'.repeat(129), 'a\u0007', 'é', '😀', '\u2800', 'a\u007f', undefined, 42])
      assert.equal(plainlyValidName(s), false);
    assert.equal(plainlyValidName('Ada Lovelace'), true);
    assert.equal(plainlyValidName('a'.repeat(128)), true);
    refused(() => parseGreetName(' '), /visible character/);
    refused(() => parseGreetName(undefined), /name is required/);
  });
});
