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

/** Parses a JSON body, with clear 400/413/415 errors (a key repeated in one object is a 400); returns `unknown` for a schema to check. */
export function readJsonBody(event: HttpEventLike): unknown {
  const text = bodyText(event);
  if (Buffer.byteLength(text, 'utf8') > MAX_BODY_BYTES)
    throw new RequestError('payload_too_large', `body must be at most ${MAX_BODY_BYTES} bytes`);
  const type = header(event, 'content-type');
  if (type && !/^application\/([a-z0-9.+-]*\+)?json\b/i.test(type))
    throw new RequestError('unsupported_media_type', 'content-type must be application/json');
  if (!text.trim()) throw new RequestError('invalid_body', 'body must be a JSON object');
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    throw new RequestError('invalid_body', 'body is not valid JSON');
  }
  rejectDuplicateKeys(text);
  return value;
}

type Frame = { kind: 'object'; keys: Set<string>; key?: string; expectKey: boolean } | { kind: 'array'; index: number };

/**
 * Refuses an object that names a key twice, at any depth: JSON.parse silently keeps the last one,
 * so `{"service":"ephemeral-x",…,"service":"greeter"}` would show one service to whatever reads
 * the text (a log, a WAF rule) and register another. Keys compare as decoded strings, so
 * `"\u0073ervice"` is `"service"`.
 *
 * A scanner rather than a library: no strict parser is in node_modules, and one (momoa,
 * jsonc-parser) would be a new dependency in every bundle whose parse would stand in for V8's.
 * JSON.parse stays the parser; this only walks text it has already accepted, so it needs no
 * grammar: it follows containers, commas and string boundaries, and decodes each key as
 * JSON.parse would. Iterative, so nesting depth cannot overflow the stack.
 */
function rejectDuplicateKeys(text: string): void {
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const top = stack.at(-1);
    if (c === '{') stack.push({ kind: 'object', keys: new Set(), expectKey: true });
    else if (c === '[') stack.push({ kind: 'array', index: 0 });
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',' && top) {
      if (top.kind === 'array') top.index++;
      else top.expectKey = true;
    } else if (c === '"') {
      const start = i;
      let escaped = false;
      for (i++; i < text.length && text[i] !== '"'; i++) {
        if (text[i] === '\\') {
          escaped = true;
          i++;
        }
      }
      if (top?.kind !== 'object' || !top.expectKey) continue;
      const key = escaped ? (JSON.parse(text.slice(start, i + 1)) as string) : text.slice(start + 1, i);
      if (top.keys.has(key)) throw new RequestError('invalid_body', `duplicate key ${quoteKey(key)} in ${pathOf(stack)}`);
      top.keys.add(key);
      top.key = key;
      top.expectKey = false;
    }
  }
}

// Where the innermost object sits, such as `body.meta` or `body.items[2]`; the last levels only when deep.
function pathOf(stack: readonly Frame[]): string {
  const steps = stack
    .slice(0, -1)
    .map((f) =>
      f.kind === 'array' ? `[${f.index}]` : /^[A-Za-z_][A-Za-z0-9_-]*$/.test(f.key ?? '') ? `.${f.key}` : `[${quoteKey(f.key ?? '')}]`,
    );
  return steps.length > 8 ? `body…${steps.slice(-8).join('')}` : `body${steps.join('')}`;
}

// Quoted and cut to 40 characters, so a hostile key cannot fill the answer.
function quoteKey(key: string): string {
  return JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key);
}

/** A header, matched case-insensitively. */
export function header(event: HttpEventLike, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(event.headers ?? {})) if (k.toLowerCase() === wanted) return v;
  return undefined;
}
