/** Reading API Gateway events (httpApi payload v2 and REST v1) safely. */
import { RequestError } from './errors';

/** The fields we read from either event shape. */
export interface HttpEventLike {
  /** A string from API Gateway; emulators may hand over an already-parsed JSON value instead. */
  body?: unknown;
  isBase64Encoded?: boolean;
  headers?: Record<string, string | undefined> | null;
  pathParameters?: Record<string, string | undefined> | null;
  queryStringParameters?: Record<string, string | undefined> | null;
}

/** Bodies above this are refused before parsing (413). */
export const MAX_BODY_BYTES = 16 * 1024;

// serverless-offline passes a falsy JSON body (0, false) as the parsed value, not its text.
function bodyText(event: HttpEventLike): string {
  const raw = event.body;
  if (raw === undefined || raw === null) return '';
  if (typeof raw !== 'string') return JSON.stringify(raw) ?? '';
  return event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
}

/** Parses a JSON body, with clear 400/413/415 errors; returns `unknown` for a schema to check. */
export function readJsonBody(event: HttpEventLike): unknown {
  const text = bodyText(event);
  if (Buffer.byteLength(text, 'utf8') > MAX_BODY_BYTES) throw new RequestError('payload_too_large', `body must be at most ${MAX_BODY_BYTES} bytes`);
  const type = header(event, 'content-type');
  if (type && !/^application\/([a-z0-9.+-]*\+)?json\b/i.test(type)) throw new RequestError('unsupported_media_type', 'content-type must be application/json');
  if (!text.trim()) throw new RequestError('invalid_body', 'body must be a JSON object');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new RequestError('invalid_body', 'body is not valid JSON');
  }
}

/** A header, matched case-insensitively. */
export function header(event: HttpEventLike, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(event.headers ?? {})) if (k.toLowerCase() === wanted) return v;
  return undefined;
}
