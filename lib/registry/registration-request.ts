/**
 * Validation of `POST /instances` bodies and of instance ids. Pure: the policy
 * (service prefixes, address rules, TTL bounds) comes from config, and every
 * failure is a RegistryError whose message names the field.
 */
import { randomBytes } from 'node:crypto';
import * as z from 'zod';
import { SERVICE_NAME } from '../config/key-specs';
import { RegistryError } from './errors';
import type { AddressPolicy } from './address-policy';
import { hiddenCharacterProblem, serviceNameProblem } from './service-names';

/** What the deployment lets a workload register. */
export interface RegistrationPolicy {
  allowedServicePrefixes: string[];
  /** Exact names allowed besides the prefixes, protected ones included (default none). */
  allowedServices?: string[];
  /** Names refused under a prefix (default: `greeter`); `*-lambda` names always are. */
  protectedServices?: string[];
  address: AddressPolicy;
  ttlSeconds: { min: number; max: number; default: number };
}

// The ttl variant spells out its absent fields so `check.service` reads without narrowing first.
/** How Consul learns the instance is alive: heartbeats (`ttl`) or a grpc.health.v1 probe (`service` '' = whole server). */
export type RegistrationCheck = { type: 'ttl'; service?: undefined } | { type: 'grpc'; service: string };

/** A validated registration: defaults filled in, address in canonical form. */
export interface Registration {
  service: string;
  address: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
  ttlSeconds: number;
  check: RegistrationCheck;
}

const [MAX_TAGS, MAX_META_KEYS, MAX_META_VALUE_BYTES] = [16, 64, 512];
const META_KEY = /^[A-Za-z0-9_-]{1,128}$/;
// The registry writes its own meta under these; a client value must not spoof it.
// external-source marks services imported from Cloud Map, which the forward mirror skips.
const RESERVED_META = /^(consul-|lease-|external-source$)/i;
// Whole seconds or minutes only: the one format, so clients never guess at units.
const DURATION = /^(\d+)(s|m)$/;
const GRPC_SERVICE = /^[A-Za-z0-9_.-]{0,128}$/;
const INSTANCE_ID = /^[a-z0-9-]{1,63}-[0-9a-f]{16}$/;

type Issue = z.core.$ZodRawIssue;

const invalid = (message: string) => new RegistryError('invalid_request', message);

const text = (field: string) => z.string({ error: (i) => (i.input === undefined ? `${field} is required` : `${field} must be a string`) });

const objectError = (what: string, where: string) => (i: Issue) =>
  i.code === 'unrecognized_keys' ? `${where}unknown field(s): ${i.keys.join(', ')}` : `${what} must be a JSON object`;

function seconds(d: string): number {
  const m = DURATION.exec(d);
  return m ? Number(m[1]) * (m[2] === 'm' ? 60 : 1) : NaN;
}

const duration = (field: string) =>
  text(field).regex(DURATION, `${field} must be a duration in whole seconds or minutes, such as "30s" or "2m"`).transform(seconds);

const tags = z
  .array(z.string({ error: 'tags must be an array of strings' }), { error: 'tags must be an array of strings' })
  .max(MAX_TAGS, `tags must hold at most ${MAX_TAGS} entries`)
  .superRefine((list, ctx) => {
    list.forEach((tag, i) => {
      const length = [...tag].length;
      if (length < 1 || length > 64) ctx.addIssue({ code: 'custom', message: `tags[${i}] must be 1–64 characters` });
      else {
        const hidden = hiddenCharacterProblem(tag);
        if (hidden) ctx.addIssue({ code: 'custom', message: `tags[${i}] ${hidden}` });
      }
    });
  });

// By hand rather than z.record, which silently drops a `__proto__` key instead of rejecting it.
function metaProblem(raw: unknown): string | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'meta must be an object of string values';
  const entries = Object.entries(raw);
  if (entries.length > MAX_META_KEYS) return `meta must hold at most ${MAX_META_KEYS} keys`;
  for (const [key, value] of entries) {
    const name = JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key);
    if (!META_KEY.test(key)) return `meta key ${name} must be 1–128 characters of A-Z a-z 0-9 _ -`;
    if (key === '__proto__') return 'meta key "__proto__" is not allowed';
    if (RESERVED_META.test(key))
      return `meta key ${name} is reserved: keys starting with consul- or lease-, and external-source, are written by the server`;
    if (typeof value !== 'string') return `meta.${key} must be a string`;
    // Bytes, as Consul counts them, so Consul never rejects what we accepted.
    if (Buffer.byteLength(value, 'utf8') > MAX_META_VALUE_BYTES) return `meta.${key} must be at most ${MAX_META_VALUE_BYTES} bytes`;
  }
  return undefined;
}

const meta = z.unknown().transform((raw, ctx): Record<string, string> => {
  const problem = metaProblem(raw);
  if (problem) {
    ctx.addIssue({ code: 'custom', message: problem });
    return z.NEVER;
  }
  return Object.fromEntries(Object.entries(raw as Record<string, string>));
});

const checkError = { error: objectError('check', 'check has ') };
const grpcCheck = z.strictObject(
  {
    type: z.literal('grpc'),
    service: z
      .string({ error: 'check.service must be a string' })
      .regex(GRPC_SERVICE, 'check.service must be at most 128 characters of A-Z a-z 0-9 _ . -')
      .optional(),
  },
  checkError,
);
const check = z.discriminatedUnion('type', [z.strictObject({ type: z.literal('ttl') }, checkError), grpcCheck], {
  error: (i) => (i.code === 'invalid_union' ? 'check.type must be "ttl" or "grpc"' : 'check must be a JSON object'),
});

const body = z.strictObject(
  {
    service: text('service').regex(
      SERVICE_NAME,
      'service must be 1–63 lower-case letters, digits or -, starting and ending with a letter or digit',
    ),
    address: text('address'),
    port: z
      .number({ error: (i) => (i.input === undefined ? 'port is required' : 'port must be a number') })
      .int('port must be an integer')
      .min(1, 'port must be 1–65535')
      .max(65535, 'port must be 1–65535'),
    tags: tags.optional(),
    meta: meta.optional(),
    ttl: duration('ttl').optional(),
    check: check.optional(),
  },
  { error: objectError('body', '') },
);

/** The registration in `body` under `policy`; throws RegistryError `invalid_request` naming the first bad field. */
export function parseRegistration(input: unknown, policy: RegistrationPolicy): Registration {
  const parsed = body.safeParse(input);
  if (!parsed.success) {
    // A misspelt field usually also shows up as a missing one; naming the unknown field is the useful hint.
    const issues = parsed.error.issues;
    throw invalid(
      (issues.find((i) => i.code === 'unrecognized_keys' && i.path.length === 0) ?? issues[0])?.message ?? 'invalid registration',
    );
  }
  const d = parsed.data;
  const refused = serviceNameProblem(d.service, policy);
  if (refused) throw invalid(refused);
  const address = policy.address.check(d.address);
  if (!address.ok) throw invalid(`address rejected: ${address.reason}`);
  const { min, max } = policy.ttlSeconds;
  if (d.ttl !== undefined && (d.ttl < min || d.ttl > max)) throw invalid(`ttl must be between ${min}s and ${max}s`);
  const c = d.check;
  // No interval: gRPC-checked instances are probed on the health-sync schedule.
  const grpc: RegistrationCheck | undefined = c?.type === 'grpc' ? { type: 'grpc', service: c.service ?? '' } : undefined;
  return {
    service: d.service,
    address: address.address,
    port: d.port,
    tags: d.tags ?? [],
    meta: d.meta ?? {},
    ttlSeconds: d.ttl ?? policy.ttlSeconds.default,
    check: grpc ?? { type: 'ttl' },
  };
}

/** The `{id}` path parameter; RegistryError `invalid_request` unless it has the form `newInstanceId` makes. */
export function parseInstanceId(raw: unknown): string {
  if (raw === undefined || raw === '') throw invalid('id is required');
  if (typeof raw !== 'string' || !INSTANCE_ID.test(raw))
    throw invalid('id must be an instance id as returned by POST /instances (service name, "-", 16 hex digits)');
  return raw;
}

/** A fresh id: the service name (cut to 63 characters) + '-' + 16 random hex digits, ≤ 80 characters. */
export function newInstanceId(service: string, random: (n: number) => Buffer = randomBytes): string {
  const name = service.slice(0, 63);
  if (!/^[a-z0-9-]+$/.test(name)) throw new RegistryError('invalid_request', 'newInstanceId needs a validated service name');
  const suffix = random(8).toString('hex');
  if (!/^[0-9a-f]{16}$/.test(suffix)) throw new RegistryError('invalid_request', 'the random source must return 8 bytes');
  return `${name}-${suffix}`;
}
