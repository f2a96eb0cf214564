/** Reading API Gateway events (httpApi payload v2 and REST v1) safely. */
import { invalidInput, RequestError } from './errors';

/** The fields we read from either event shape. */
export interface HttpEventLike {
  body?: string | null;
  isBase64Encoded?: boolean;
  headers?: Record<string, string | undefined> | null;
  pathParameters?: Record<string, string | undefined> | null;
  queryStringParameters?: Record<string, string | undefined> | null;
}

/** Bodies above this are refused before parsing (413). */
export const MAX_BODY_BYTES = 16 * 1024;

/** Parses a JSON body, with clear 400/413/415 errors; returns `unknown` for a schema to check. */
export function readJsonBody(event: HttpEventLike): unknown {
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (Buffer.byteLength(text, 'utf8') > MAX_BODY_BYTES) throw new RequestError(413, 'PAYLOAD_TOO_LARGE', `body must be at most ${MAX_BODY_BYTES} bytes`);
  const type = header(event, 'content-type');
  if (type && !/^application\/([a-z0-9.+-]*\+)?json\b/i.test(type)) throw new RequestError(415, 'UNSUPPORTED_MEDIA_TYPE', 'content-type must be application/json');
  if (!text.trim()) throw invalidInput('body must be a JSON object');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalidInput('body is not valid JSON');
  }
}

/** A header, matched case-insensitively. */
export function header(event: HttpEventLike, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(event.headers ?? {})) if (k.toLowerCase() === wanted) return v;
  return undefined;
}
