/** Validation of the name to greet, from `GET /hello/{name}` or `POST /greet`. */
import { z } from 'zod';
import { invalidInput } from '../http/errors';
import { readJsonBody, type HttpEventLike } from '../http/event';

/** 1–128 characters (code points), no control characters. */
const nameSchema = z
  .string({ error: 'name must be a string' })
  .refine((s) => [...s].length >= 1, 'name must not be empty')
  .refine((s) => [...s].length <= 128, 'name must be at most 128 characters')
  .refine((s) => !/\p{Cc}/u.test(s), 'name must not contain control characters');

const greetBody = z.strictObject({ name: nameSchema }, { error: (i) => (i.code === 'unrecognized_keys' ? `unknown field(s): ${i.keys.join(', ')}` : 'body must be a JSON object with a "name" string') });

function firstMessage(err: z.ZodError): string {
  return err.issues[0]?.message ?? 'invalid input';
}

/** The name from the path parameter of `GET /hello/{name}`. */
export function nameFromPath(event: HttpEventLike): string {
  const raw = event.pathParameters?.name;
  if (raw === undefined) throw invalidInput('name is required');
  const parsed = nameSchema.safeParse(raw);
  if (!parsed.success) throw invalidInput(firstMessage(parsed.error));
  return parsed.data;
}

/** The name from the JSON body of `POST /greet`. */
export function nameFromBody(event: HttpEventLike): string {
  const parsed = greetBody.safeParse(readJsonBody(event));
  if (!parsed.success) throw invalidInput(firstMessage(parsed.error));
  return parsed.data.name;
}
