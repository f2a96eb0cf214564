/**
 * The trace context of one invocation, read from what the caller sent and
 * what Lambda set, and the headers that carry it to the Greeter.
 *
 * Everything that arrives is checked against its format (W3C Trace Context
 * level 1, the X-Ray header's Root/Parent/Sampled fields) and re-written from
 * the parsed fields: a malformed or oversized value is dropped, never forwarded.
 * Hand-written rather than @opentelemetry/core's W3C propagator: the API
 * package carries no propagator, and core would add its whole SDK base to the
 * greet bundle for two header formats (see otel-propagation.ts for when a
 * user's OpenTelemetry SDK takes over). Both formats are fixed-width, so they
 * are checked by position and character class rather than by regular
 * expressions or splitting: this runs on every invocation (and on the
 * Greeter, every call), where a few allocations fewer show in the latency.
 */
import { randomFillSync } from 'node:crypto';

/** One invocation's trace: the id both sides log, the gateway's span, and the headers it came with. */
export interface TraceContext {
  /** W3C trace id: 32 lowercase hex digits, never all zeros. */
  traceId: string;
  /** The gateway's span id (16 hex): the parent of every Greeter attempt. */
  spanId: string;
  sampled: boolean;
  /** A valid incoming `tracestate`, forwarded unchanged. */
  tracestate?: string;
  /** The X-Ray header to forward (`Root=…;Parent=…;Sampled=…`), rebuilt from its validated fields. */
  xray?: string;
}

/** The parts of an X-Ray trace header we keep. */
export interface XrayHeader {
  /** `1-<8 hex epoch>-<24 hex>`. */
  root: string;
  parent?: string;
  sampled?: boolean;
}

// W3C tracestate list-member: key (simple or tenant@system) '=' value of printable ASCII without ',' and '='.
const TRACESTATE_MEMBER =
  /^(?:[a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;
const MAX_TRACESTATE = 512;
const MAX_XRAY = 256;
// `00-` + 32 + `-` + 16 + `-` + 2: a version-00 traceparent is exactly this long.
const TRACEPARENT_LENGTH = 55;
// `1-` + 8 + `-` + 24.
const XRAY_ROOT_LENGTH = 35;

/** True when s[from, to) is all lowercase hex digits. */
function isLowerHex(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/** True when s[from, to) is all '0'. */
function isZeros(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (s.charCodeAt(i) !== 48) return false;
  return true;
}

/** True when s[from, to) holds no line terminator (what a later traceparent version may append is otherwise free). */
function isOneLine(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 10 || c === 13 || c === 0x2028 || c === 0x2029) return false;
  }
  return true;
}

/** A W3C `traceparent` value's fields, or undefined when it breaks the format (version ff, zero ids, bad length). */
export function parseTraceparent(value: string | undefined): { traceId: string; parentId: string; sampled: boolean } | undefined {
  if (!value || value.length > 512) return undefined;
  const v = value.trim();
  if (v.length < TRACEPARENT_LENGTH || v.charCodeAt(2) !== 45 || v.charCodeAt(35) !== 45 || v.charCodeAt(52) !== 45) return undefined;
  if (!isLowerHex(v, 0, 2) || !isLowerHex(v, 3, 35) || !isLowerHex(v, 36, 52) || !isLowerHex(v, 53, 55)) return undefined;
  // Version 00 has exactly four fields; a later version may add some, after a dash.
  const version = v.slice(0, 2);
  if (version === 'ff') return undefined;
  if (v.length > TRACEPARENT_LENGTH && (version === '00' || v.charCodeAt(55) !== 45 || !isOneLine(v, 56, v.length))) return undefined;
  if (isZeros(v, 3, 35) || isZeros(v, 36, 52)) return undefined;
  // The flags' last hex digit carries the sampled bit: '1', '3', …, 'b', 'd', 'f'.
  const last = v.charCodeAt(54);
  const sampled = ((last <= 57 ? last - 48 : last - 87) & 1) === 1;
  return { traceId: v.slice(3, 35), parentId: v.slice(36, 52), sampled };
}

/** A `tracestate` value when it is well-formed (≤ 32 members, ≤ 512 characters), else undefined. */
export function validTracestate(value: string | undefined): string | undefined {
  if (!value || value.length > MAX_TRACESTATE) return undefined;
  const members = value
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m !== '');
  if (members.length === 0 || members.length > 32 || !members.every((m) => TRACESTATE_MEMBER.test(m))) return undefined;
  return members.join(',');
}

const WHITESPACE = /\s/;
/** True for what String.prototype.trim removes (ASCII checked directly; the rest is rare). */
const isBlank = (c: number): boolean => c === 32 || (c >= 9 && c <= 13) || (c > 127 && WHITESPACE.test(String.fromCharCode(c)));

/** True when v[from, to) is an X-Ray root, `1-<8 hex>-<24 hex>`. */
function isXrayRoot(v: string, from: number, to: number): boolean {
  return (
    to - from === XRAY_ROOT_LENGTH &&
    v.charCodeAt(from) === 49 &&
    v.charCodeAt(from + 1) === 45 &&
    v.charCodeAt(from + 10) === 45 &&
    isLowerHex(v, from + 2, from + 10) &&
    isLowerHex(v, from + 11, to)
  );
}

/** The Root, Parent and Sampled fields of an X-Ray trace header (`_X_AMZN_TRACE_ID`); undefined without a valid Root. */
export function parseXrayHeader(value: string | undefined): XrayHeader | undefined {
  if (!value || value.length > MAX_XRAY) return undefined;
  let root: string | undefined;
  let parent: string | undefined;
  let sampled: boolean | undefined;
  // Fields are `key=value` separated by ';'; keys compare case-insensitively, blanks around either are ignored.
  for (let start = 0; start <= value.length;) {
    let end = value.indexOf(';', start);
    if (end < 0) end = value.length;
    const eq = value.indexOf('=', start);
    if (eq >= 0 && eq < end) {
      let ks = start;
      let ke = eq;
      let vs = eq + 1;
      let ve = end;
      while (ks < ke && isBlank(value.charCodeAt(ks))) ks++;
      while (ke > ks && isBlank(value.charCodeAt(ke - 1))) ke--;
      while (vs < ve && isBlank(value.charCodeAt(vs))) vs++;
      while (ve > vs && isBlank(value.charCodeAt(ve - 1))) ve--;
      const keyLength = ke - ks;
      // Only keys as long as one we keep are lower-cased (a few of them per header).
      const key = keyLength === 4 || keyLength === 6 || keyLength === 7 ? value.slice(ks, ke).toLowerCase() : '';
      if (key === 'root') {
        if (!isXrayRoot(value, vs, ve)) return undefined;
        root = value.slice(vs, ve);
      } else if (key === 'parent') {
        if (ve - vs === 16 && isLowerHex(value, vs, ve) && !isZeros(value, vs, ve)) parent = value.slice(vs, ve);
      } else if (key === 'sampled' && ve - vs === 1) {
        const c = value.charCodeAt(vs);
        if (c === 48 || c === 49) sampled = c === 49;
      }
    }
    start = end + 1;
  }
  if (!root) return undefined;
  const out: XrayHeader = { root };
  if (parent) out.parent = parent;
  if (sampled !== undefined) out.sampled = sampled;
  return out;
}

/** The W3C trace id of an X-Ray root: its epoch and random parts joined (`1-5759e988-bd86…` → `5759e988bd86…`). */
export function xrayRootToTraceId(root: string): string {
  return root.slice(2, 10) + root.slice(11);
}

/** The X-Ray root for a W3C trace id (the inverse mapping). */
export function traceIdToXrayRoot(traceId: string): string {
  return `1-${traceId.slice(0, 8)}-${traceId.slice(8)}`;
}

/** The X-Ray header rebuilt from its parsed fields. */
export function formatXrayHeader(x: XrayHeader): string {
  return `Root=${x.root}${x.parent ? `;Parent=${x.parent}` : ''}${x.sampled === undefined ? '' : `;Sampled=${x.sampled ? 1 : 0}`}`;
}

/** What an invocation says about its trace: the caller's headers and, under Lambda, `_X_AMZN_TRACE_ID`. */
export interface TraceSources {
  traceparent?: string;
  tracestate?: string;
  /** The incoming `X-Amzn-Trace-Id` header (API Gateway, serverless-offline). */
  xrayHeader?: string;
  /** `process.env._X_AMZN_TRACE_ID`: Lambda's own, preferred over the header. */
  xrayEnv?: string;
}

/**
 * The invocation's trace context: the caller's valid `traceparent` (with its `tracestate`); else one
 * derived from the X-Ray header (the same trace id, X-Ray's Sampled flag); else a fresh random trace.
 * The span id is always new: it names the gateway's own span.
 */
export function traceFromSources(s: TraceSources): TraceContext {
  const w3c = parseTraceparent(s.traceparent);
  const xray = parseXrayHeader(s.xrayEnv) ?? parseXrayHeader(s.xrayHeader);
  let t: TraceContext;
  if (w3c) {
    t = { traceId: w3c.traceId, spanId: randomHex(8), sampled: w3c.sampled };
    const tracestate = validTracestate(s.tracestate);
    if (tracestate) t.tracestate = tracestate;
  } else if (xray) t = { traceId: xrayRootToTraceId(xray.root), spanId: randomHex(8), sampled: xray.sampled ?? false };
  else return { traceId: randomHex(16), spanId: randomHex(8), sampled: false };
  if (xray) t.xray = formatXrayHeader(xray);
  return t;
}

/** The `traceparent` value naming the gateway's span as the parent. */
export function formatTraceparent(t: TraceContext): string {
  return `00-${t.traceId}-${t.spanId}-${t.sampled ? '01' : '00'}`;
}

/** The gRPC metadata entries that carry `t`: traceparent, tracestate when present, x-amzn-trace-id when the invocation had one. */
export function traceHeaders(t: TraceContext): Record<string, string> {
  const headers: Record<string, string> = { traceparent: formatTraceparent(t) };
  if (t.tracestate) headers.tracestate = t.tracestate;
  if (t.xray) headers['x-amzn-trace-id'] = t.xray;
  return headers;
}

// Ids come from a pool of CSPRNG bytes refilled 4 KiB at a time: one randomBytes(8) call costs ~1–10 µs
// (OpenSSL under a lock), a slice of the pool well under one; the pool is 256 spans' worth.
const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let poolOffset = POOL_BYTES;

/** `bytes` random bytes as lowercase hex, never all zeros (an invalid W3C id; one in 2^64 draws, but cheap to rule out). */
function randomHex(bytes: number): string {
  for (;;) {
    if (poolOffset + bytes > POOL_BYTES) {
      randomFillSync(pool);
      poolOffset = 0;
    }
    const hex = pool.toString('hex', poolOffset, poolOffset + bytes);
    poolOffset += bytes;
    if (!isZeros(hex, 0, hex.length)) return hex;
  }
}
