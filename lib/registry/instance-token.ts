/**
 * Instance tokens: an HMAC over an instance's id and service, handed to whoever
 * registered it (the API calls it the lease token: `leaseToken`, `x-lease-token`).
 * Holding the token is the only proof needed to renew or delete the instance,
 * so the registry stores no secrets per instance.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../config/errors';
import { RegistryError } from './errors';

/** Key material: raw bytes, or a string taken as its UTF-8 bytes. */
export type SigningKey = Buffer | string;

/** Extra keys that still verify (rotation: the new key signs, the old ones keep working). */
export interface InstanceTokenSignerOptions {
  previousKeys?: SigningKey[];
}

/** Signs and checks instance tokens. */
export interface InstanceTokenSigner {
  sign(id: string, service: string): string;
  verify(token: string | undefined, id: string, service: string): boolean;
}

/** Shortest key accepted: below SHA-256's 32-byte output the key, not the hash, would be the weak link. */
export const MIN_KEY_BYTES = 32;

const VERSION = 'v1';
// 32 bytes of HMAC in unpadded base64url.
const TOKEN_LENGTH = `${VERSION}.`.length + 43;

function keyBytes(key: SigningKey, which: string): Buffer {
  const valid = typeof key === 'string' || Buffer.isBuffer(key);
  // Copied, so a caller reusing its buffer cannot change the key under us.
  const bytes = valid ? Buffer.from(key) : Buffer.alloc(0);
  if (bytes.length < MIN_KEY_BYTES) {
    // Only the length is reported: the key itself must never reach a log.
    throw new ConfigError(
      'invalid_secret',
      `${which} must be at least ${MIN_KEY_BYTES} bytes (got ${valid ? bytes.length : 'no key'}); ` +
        'set REGISTRY_SIGNING_KEY (and REGISTRY_SIGNING_KEY_PREVIOUS while rotating) to a random secret, e.g. the output of `openssl rand -base64 48`',
    );
  }
  return bytes;
}

// A newline inside id or service would let two different pairs share one MAC input.
function unambiguous(id: string, service: string): boolean {
  return typeof id === 'string' && typeof service === 'string' && !id.includes('\n') && !service.includes('\n');
}

function mac(key: Buffer, id: string, service: string): string {
  return `${VERSION}.${createHmac('sha256', key).update(`${VERSION}\n${id}\n${service}`).digest('base64url')}`;
}

/** A signer for `key`; `previousKeys` only verify. Throws if any key is shorter than 32 bytes. */
export function createInstanceTokenSigner(key: SigningKey, opts: InstanceTokenSignerOptions = {}): InstanceTokenSigner {
  const current = keyBytes(key, 'the registry signing key');
  const keys = [current, ...(opts.previousKeys ?? []).map((k, i) => keyBytes(k, `previous registry signing key #${i + 1}`))];
  return {
    sign(id, service) {
      if (!unambiguous(id, service)) throw new RegistryError('invalid_request', 'instance tokens need an id and service without newlines');
      return mac(current, id, service);
    },
    verify(token, id, service) {
      if (typeof token !== 'string' || token.length !== TOKEN_LENGTH || !token.startsWith(`${VERSION}.`)) return false;
      if (!unambiguous(id, service)) return false;
      // Whole token text is compared, not decoded bytes: base64 decoding is lenient
      // and would accept altered spare bits or junk characters as the same MAC.
      const given = Buffer.from(token, 'utf8');
      let ok = false;
      // Every key is tried, so timing does not reveal which key (if any) matched.
      for (const k of keys) {
        const expected = Buffer.from(mac(k, id, service), 'utf8');
        if (expected.length === given.length && timingSafeEqual(expected, given)) ok = true;
      }
      return ok;
    },
  };
}
