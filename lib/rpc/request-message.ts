/**
 * The method's input message from an HTTP request (pure apart from the registry): the body (the whole
 * input, one field of it, or nothing), the path variables and the query parameters, merged into one
 * proto3 JSON value and decoded by @bufbuild/protobuf's fromJson, which refuses unknown fields and
 * wrong types. Path and query values are strings, so each is first given the JSON type its field
 * expects (a bool, an enum number, a list for a repeated field).
 */
import { fromJson, ScalarType, type DescField, type DescMessage, type JsonObject, type JsonValue, type Message } from '@bufbuild/protobuf';
import { RpcError } from './errors';
import type { RouteMatch } from './routes';

/** The parts of a request the mapping reads. */
export interface RequestParts {
  /** The parsed JSON body (undefined: none). */
  body: unknown;
  /** Query parameters, repeated ones in order. */
  query: readonly (readonly [string, string])[];
}

const invalid = (message: string, field?: string) => new RpcError('invalid_argument', message, field ? { field } : {});

/** The field at a dotted path of proto or JSON names, through singular message fields. */
function fieldAt(message: DescMessage, path: string): { field: DescField; parents: DescField[] } {
  const names = path.split('.');
  const parents: DescField[] = [];
  let current = message;
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    const field = current.fields.find((f) => f.name === name || f.jsonName === name);
    if (!field) throw invalid(`unknown field "${path}" in ${message.typeName}`, path);
    if (i === names.length - 1) return { field, parents };
    if (field.fieldKind !== 'message') throw invalid(`field "${names.slice(0, i + 1).join('.')}" has no fields`, path);
    parents.push(field);
    current = field.message;
  }
  throw invalid(`empty field path`, path);
}

/** A path or query string as the JSON value its field's type expects. */
function typed(field: DescField, raw: string, path: string): JsonValue {
  const scalar = field.fieldKind === 'scalar' || (field.fieldKind === 'list' && field.listKind === 'scalar') ? field.scalar : undefined;
  if (scalar === ScalarType.BOOL) {
    if (raw === 'true' || raw === 'false') return raw === 'true';
    throw invalid(`field "${path}": expected true or false, got ${JSON.stringify(raw)}`, path);
  }
  const isEnum = field.fieldKind === 'enum' || (field.fieldKind === 'list' && field.listKind === 'enum');
  if (isEnum && /^-?\d+$/.test(raw)) return Number(raw);
  if (field.fieldKind === 'map') throw invalid(`field "${path}": a map cannot be set from the path or query`, path);
  // Numbers stay strings (proto3 JSON accepts quoted numbers, 64-bit ones especially); a message field
  // takes the string form of its well-known type (Timestamp, Duration, wrappers).
  return raw;
}

/** Sets `value` at `path` in `json`, creating parent objects; a repeated field collects values. */
function setAt(json: JsonObject, path: string, field: DescField, value: JsonValue): void {
  const names = path.split('.');
  let node = json;
  for (const name of names.slice(0, -1)) {
    const next = node[name];
    if (next !== undefined && (typeof next !== 'object' || next === null || Array.isArray(next)))
      throw invalid(`field "${path}" is set twice`, path);
    node = (next as JsonObject | undefined) ?? (node[name] = {});
  }
  const leaf = names.at(-1) as string;
  if (field.fieldKind === 'list') {
    const list = node[leaf];
    node[leaf] = Array.isArray(list) ? [...list, value] : [value];
  } else {
    if (node[leaf] !== undefined) throw invalid(`field "${path}" is set twice`, path);
    node[leaf] = value;
  }
}

/** The field a fromJson error names, if any (`echo.v1.EchoRequest.count`, `key "bogus"`). */
export function fieldOfJsonError(message: string, typeName: string): string | undefined {
  const key = /key "([^"]+)" is unknown/.exec(message)?.[1];
  if (key) return key;
  const field = /cannot decode field ([\w.]+) from JSON/.exec(message)?.[1];
  if (!field) return undefined;
  return field.startsWith(`${typeName}.`) ? field.slice(typeName.length + 1) : field;
}

/** The input message for `match`; throws RpcError `invalid_argument` naming the field on a bad request. */
export function requestMessage(match: RouteMatch, parts: RequestParts): Message {
  const input = match.method.desc.input;
  let json: JsonObject = {};
  if (match.body === '*') {
    if (parts.body !== undefined) {
      if (typeof parts.body !== 'object' || parts.body === null || Array.isArray(parts.body))
        throw invalid(`body must be a JSON object (${input.typeName})`);
      json = { ...(parts.body as JsonObject) };
    }
    if (parts.query.length)
      throw invalid(`query parameter "${parts.query[0]?.[0]}": the body carries the whole request`, parts.query[0]?.[0]);
  } else if (match.body) {
    if (parts.body !== undefined) setAt(json, match.body, fieldAt(input, match.body).field, parts.body as JsonValue);
  } else if (parts.body !== undefined) {
    throw invalid('this route takes no body');
  }
  for (const [path, raw] of Object.entries(match.pathParams)) {
    const { field } = fieldAt(input, path);
    // The path wins over the body for the fields it binds.
    deleteAt(json, path);
    setAt(json, path, field, typed(field, raw, path));
  }
  if (match.body !== '*') {
    for (const [path, raw] of parts.query) {
      const { field } = fieldAt(input, path);
      setAt(json, path, field, typed(field, raw, path));
    }
  }
  try {
    return fromJson(input, json, { ignoreUnknownFields: false });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw invalid(message, fieldOfJsonError(message, input.typeName));
  }
}

function deleteAt(json: JsonObject, path: string): void {
  const names = path.split('.');
  let node: JsonValue | undefined = json;
  for (const name of names.slice(0, -1)) node = node && typeof node === 'object' && !Array.isArray(node) ? node[name] : undefined;
  if (node && typeof node === 'object' && !Array.isArray(node)) delete node[names.at(-1) as string];
}
