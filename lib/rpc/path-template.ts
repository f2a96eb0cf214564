/**
 * Path templates of google.api.http rules (`/v1/{name=rooms/*}/messages`, `/v1/echo:say`), parsed once
 * and matched against request paths (pure). The grammar is the one google/api/http.proto documents:
 *   Template = "/" Segments [ Verb ] ;  Segments = Segment { "/" Segment } ;
 *   Segment = "*" | "**" | LITERAL | Variable ;  Variable = "{" FieldPath [ "=" Segments ] "}" ;
 *   Verb = ":" LITERAL ;
 * `{field}` is `{field=*}`; `**` matches any number of segments and may only come last.
 */

type Segment = { kind: 'literal'; value: string } | { kind: 'any' } | { kind: 'rest' };

/** A parsed template: its segments, the variables (field path → segment range) and the verb. */
export interface PathTemplate {
  source: string;
  segments: Segment[];
  variables: { fieldPath: string; start: number; end: number }[];
  verb?: string;
}

/** A template that does not follow the grammar (a bug in a .proto file, found when the route table is built). */
export class PathTemplateError extends Error {
  override name = 'PathTemplateError';
}

const FIELD_PATH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
const LITERAL = /^[A-Za-z0-9._~!$&'()+,;=@-]+$/;

/** Parses `source`; throws PathTemplateError naming the template. */
export function parsePathTemplate(source: string): PathTemplate {
  const fail = (why: string): never => {
    throw new PathTemplateError(`path template "${source}": ${why}`);
  };
  if (!source.startsWith('/')) fail('must start with "/"');
  let body = source.slice(1);
  // The verb follows the last "/" outside braces.
  let verb: string | undefined;
  const lastColon = body.lastIndexOf(':');
  if (lastColon > body.lastIndexOf('/') && lastColon > body.lastIndexOf('}')) {
    verb = body.slice(lastColon + 1);
    body = body.slice(0, lastColon);
    if (!LITERAL.test(verb)) fail(`bad verb "${verb}"`);
  }
  const segments: Segment[] = [];
  const variables: PathTemplate['variables'] = [];
  const pushSegment = (raw: string) => {
    if (raw === '*') segments.push({ kind: 'any' });
    else if (raw === '**') segments.push({ kind: 'rest' });
    else if (LITERAL.test(raw)) segments.push({ kind: 'literal', value: raw });
    else fail(`bad segment "${raw}"`);
  };
  let i = 0;
  while (i <= body.length) {
    if (body[i] === '{') {
      const close = body.indexOf('}', i);
      if (close < 0) fail('unclosed "{"');
      const inner = body.slice(i + 1, close);
      const eq = inner.indexOf('=');
      const fieldPath = eq < 0 ? inner : inner.slice(0, eq);
      if (!FIELD_PATH.test(fieldPath)) fail(`bad field path "${fieldPath}"`);
      if (variables.some((v) => v.fieldPath === fieldPath)) fail(`field "${fieldPath}" bound twice`);
      const start = segments.length;
      for (const s of (eq < 0 ? '*' : inner.slice(eq + 1)).split('/')) {
        if (s.includes('{')) fail('variables may not nest');
        pushSegment(s);
      }
      variables.push({ fieldPath, start, end: segments.length });
      i = close + 1;
    } else {
      const next = body.indexOf('/', i);
      const end = next < 0 ? body.length : next;
      const raw = body.slice(i, end);
      if (raw.includes('{') || raw.includes('}')) fail(`bad segment "${raw}"`);
      pushSegment(raw);
      i = end;
    }
    if (i >= body.length) break;
    if (body[i] !== '/') fail(`expected "/" at ${i + 1}`);
    i++;
  }
  const rest = segments.findIndex((s) => s.kind === 'rest');
  if (rest >= 0 && rest !== segments.length - 1) fail('"**" may only be the last segment');
  return { source, segments, variables, ...(verb !== undefined ? { verb } : {}) };
}

/**
 * The variables of `template` bound by `path` (percent-decoded; `**` keeps its slashes), or undefined
 * when the path does not match. `path` is the raw request path, without the query string.
 */
export function matchPathTemplate(template: PathTemplate, path: string): Record<string, string> | undefined {
  if (!path.startsWith('/')) return undefined;
  let body = path.slice(1);
  if (template.verb !== undefined) {
    const suffix = `:${template.verb}`;
    if (!body.endsWith(suffix)) return undefined;
    body = body.slice(0, -suffix.length);
  }
  const parts = body.split('/');
  const segs = template.segments;
  const open = segs.at(-1)?.kind === 'rest';
  if (open ? parts.length < segs.length - 1 : parts.length !== segs.length) return undefined;
  for (let k = 0; k < segs.length; k++) {
    const seg = segs[k] as Segment;
    const part = parts[k];
    if (seg.kind === 'rest') break;
    if (part === undefined || part === '') return undefined;
    if (seg.kind === 'literal' && decode(part) !== seg.value) return undefined;
  }
  const out: Record<string, string> = {};
  for (const v of template.variables) {
    const end = open && v.end === segs.length ? parts.length : v.end;
    const taken = parts.slice(v.start, end);
    if (taken.some((p) => decode(p) === undefined)) return undefined;
    out[v.fieldPath] = taken.map((p) => decode(p) as string).join('/');
  }
  return out;
}

function decode(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}
