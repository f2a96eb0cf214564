/** Validation of the name to greet, from `GET /hello/{name}` or the body of `POST /greet` (pure). */
import * as z from 'zod/mini';
import { GreetError } from './errors';

// Characters that draw nothing: spaces and separators, controls, format characters
// (U+200B, U+FEFF, U+2060…), lone combining marks, default-ignorables such as
// U+3164, and the blank braille pattern. A name made only of these greets nobody.
const INVISIBLE = /^[\p{White_Space}\p{Cc}\p{Cf}\p{Z}\p{M}\p{Default_Ignorable_Code_Point}\u2800]*$/u;

/** 1–128 characters (code points), at least one visible, no control characters. */
const nameSchema = z.string({ error: (i) => (i.input === undefined ? 'name is required' : 'name must be a string') }).check(
  z.refine((s) => [...s].length >= 1, 'name must not be empty'),
  z.refine((s) => [...s].length <= 128, 'name must be at most 128 characters'),
  z.refine((s) => !/\p{Cc}/u.test(s), 'name must not contain control characters'),
  z.refine((s) => !INVISIBLE.test(s), 'name must contain a visible character'),
);

const greetBody = z.strictObject(
  { name: nameSchema },
  {
    error: (i) =>
      i.code === 'unrecognized_keys' ? `unknown field(s): ${i.keys.join(', ')}` : 'body must be a JSON object with a "name" string',
  },
);

function parsed<T>(result: z.util.SafeParseResult<T>): T {
  if (result.success) return result.data;
  throw new GreetError('invalid_name', result.error.issues[0]?.message ?? 'invalid name');
}

/**
 * True for a name every rule of the schema admits at a glance: 1–128 characters of printable ASCII, not
 * all spaces (the only printable ASCII character that draws nothing). Most names are such; checking them
 * here costs a fraction of the schema's pass (on every warm call), and anything else meets the schema,
 * which also words the error.
 */
export function plainlyValidName(s: unknown): s is string {
  if (typeof s !== 'string' || s.length === 0 || s.length > 128) return false;
  let visible = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
    if (c !== 0x20) visible = true;
  }
  return visible;
}

/** The name in a path parameter (`undefined`: absent); throws GreetError `invalid_name`. */
export function parseGreetName(raw: unknown): string {
  return plainlyValidName(raw) ? raw : parsed(nameSchema.safeParse(raw));
}

/** The name in a parsed JSON body `{"name": "…"}`; throws GreetError `invalid_name`. */
export function greetNameFromBody(body: unknown): string {
  return parsed(greetBody.safeParse(body)).name;
}
