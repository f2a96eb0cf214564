/**
 * The trace context of one invocation, read from what the caller sent and
 * what Lambda set, and the headers that carry it to the Greeter.
 *
 * Everything that arrives is checked against its format (W3C Trace Context
 * level 1, the X-Ray header's Root/Parent/Sampled fields) and re-written from
 * the parsed fields: a malformed or oversized value is dropped, never forwarded.
 * Hand-written rather than @opentelemetry/core's W3C propagator: the API
 * package carries no propagator, and core would add its whole SDK base to the
 * greet bundle for two regular expressions (see otel-propagation.ts for when a
 * user's OpenTelemetry SDK takes over).
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

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const XRAY_ROOT = /^1-([0-9a-f]{8})-([0-9a-f]{24})$/;
const HEX16 = /^[0-9a-f]{16}$/;
// W3C tracestate list-member: key (simple or tenant@system) '=' value of printable ASCII without ',' and '='.
const TRACESTATE_MEMBER =
  /^(?:[a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;
const MAX_TRACESTATE = 512;
const MAX_XRAY = 256;
const ZEROS = /^0+$/;

/** A W3C `traceparent` value's fields, or undefined when it breaks the format (version ff, zero ids, bad length). */
export function parseTraceparent(value: string | undefined): { traceId: string; parentId: string; sampled: boolean } | undefined {
  if (!value || value.length > 512) return undefined;
  const m = TRACEPARENT.exec(value.trim());
  if (!m) return undefined;
  const [, version, traceId, parentId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  // Version 00 has exactly four fields; a later version may add some, after a dash.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (ZEROS.test(traceId) || ZEROS.test(parentId)) return undefined;
  return { traceId, parentId, sampled: (parseInt(flags, 16) & 1) === 1 };
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

/** The Root, Parent and Sampled fields of an X-Ray trace header (`_X_AMZN_TRACE_ID`); undefined without a valid Root. */
export function parseXrayHeader(value: string | undefined): XrayHeader | undefined {
  if (!value || value.length > MAX_XRAY) return undefined;
  const out: Partial<XrayHeader> = {};
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim().toLowerCase();
    const v = part.slice(eq + 1).trim();
    if (eq < 0) continue;
    if (key === 'root') {
      if (!XRAY_ROOT.test(v)) return undefined;
      out.root = v;
    } else if (key === 'parent' && HEX16.test(v) && !ZEROS.test(v)) out.parent = v;
    else if (key === 'sampled' && (v === '0' || v === '1')) out.sampled = v === '1';
  }
  return out.root ? (out as XrayHeader) : undefined;
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
  const spanId = randomHex(8);
  const xrayOut = xray ? { xray: formatXrayHeader(xray) } : {};
  if (w3c) {
    const tracestate = validTracestate(s.tracestate);
    return { traceId: w3c.traceId, spanId, sampled: w3c.sampled, ...(tracestate ? { tracestate } : {}), ...xrayOut };
  }
  if (xray) return { traceId: xrayRootToTraceId(xray.root), spanId, sampled: xray.sampled ?? false, ...xrayOut };
  return { traceId: randomHex(16), spanId, sampled: false };
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
    if (!ZEROS.test(hex)) return hex;
  }
}
