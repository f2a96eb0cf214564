/**
 * Reads the health-sync mirror back: DiscoverInstances (HealthStatus HEALTHY) on the HTTP
 * namespace and service the job writes, turned back into the Consul instance it came from
 * (the reverse of attributes.ts). One call per poll, with a timeout, and errors classified
 * for the watch: throttled (back off), no answer (a fallback may take over), or an answer.
 *
 * The SDK is loaded on first use, so a gateway that never reads Cloud Map does not pay
 * for it at cold start. Standalone: imports no other adapter (discovery adapts to it).
 */
import type { ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import { AppError } from '../errors/app-error';
import { META_PREFIX, TAGS_KEY } from './attributes';
import { cloudMapClientConfig } from './cloudmap-client-config';

/** A Consul instance as the health-sync mirror holds it. */
export interface DiscoveredInstance {
  instanceId: string;
  address: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
}

/** Why a DiscoverInstances call failed; `throttled` backs off, `unreachable` means no answer at all. */
export type CloudMapDiscoveryErrorKind = 'throttled' | 'unreachable' | 'not_found' | 'aborted' | 'failed';

/** A DiscoverInstances call failed; the flags are the convention the discovery watch and fallback read. */
export class CloudMapDiscoveryError extends AppError<CloudMapDiscoveryErrorKind> {
  override name = 'CloudMapDiscoveryError';
  readonly domain = 'cloudmap';
  /** Cloud Map refused the call for the quota: back off with jitter, keep the cached list. */
  readonly throttled: boolean;
  /** The endpoint gave no answer (refused, reset, timed out): another source may answer instead. */
  readonly noAnswer: boolean;
  constructor(
    kind: CloudMapDiscoveryErrorKind,
    message: string,
    /** The AWS error name or network code, when there is one. */
    readonly code?: string,
    options?: { cause?: unknown },
  ) {
    super(kind, `DiscoverInstances: ${message}`, options);
    this.throttled = kind === 'throttled';
    this.noAnswer = kind === 'unreachable';
  }
}

/** Most instances one DiscoverInstances call returns (the API's own maximum; it has no paging). */
export const MAX_DISCOVERED = 1000;
/** Default of DiscoverInstancesOptions.timeoutMs. */
export const DISCOVER_TIMEOUT_MS = 2_000;

/** Where the mirror lives and how long one call may take. */
export interface DiscoverInstancesOptions {
  region: string;
  /** A local endpoint (moto); empty for AWS. */
  endpoint?: string;
  /** Longest one call may take, connect included (default DISCOVER_TIMEOUT_MS). */
  timeoutMs?: number;
  /**
   * Attempts per call, the first included (default 1): the watch is the retry loop, with its own
   * jittered backoff, and an SDK retry of a throttled call would spend the shared quota twice.
   */
  maxAttempts?: number;
}

/** The DiscoverInstances reader the cloudmap discovery source is given. */
export interface DiscoverInstancesClient {
  /** Healthy instances of `service` in the HTTP namespace named `namespace`; rejects with CloudMapDiscoveryError. */
  discover(namespace: string, service: string, signal?: AbortSignal): Promise<DiscoveredInstance[]>;
  /** DiscoverInstances calls sent so far (each counts against the account's quota). */
  readonly calls: number;
  /** Calls Cloud Map refused as throttled so far. */
  readonly throttledCalls: number;
  /** Closes the SDK client's sockets. */
  close(): void;
}

type Sdk = typeof import('@aws-sdk/client-servicediscovery');

/** Creates a DiscoverInstances reader; nothing is loaded or connected before the first call. */
export function createDiscoverInstancesClient(opts: DiscoverInstancesOptions): DiscoverInstancesClient {
  const timeoutMs = opts.timeoutMs ?? DISCOVER_TIMEOUT_MS;
  let loading: Promise<{ sdk: Sdk; client: ServiceDiscoveryClient }> | undefined;
  let closed = false;
  let calls = 0;
  let throttledCalls = 0;
  const load = () =>
    (loading ??= (async () => {
      // Dynamic on purpose: the SDK costs tens of milliseconds to load on a cold start.
      const sdk = await import('@aws-sdk/client-servicediscovery');
      const client = new sdk.ServiceDiscoveryClient(
        cloudMapClientConfig({
          region: opts.region,
          ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
          maxAttempts: opts.maxAttempts ?? 1,
          requestTimeoutMs: timeoutMs,
          connectionTimeoutMs: Math.min(timeoutMs, 1_000),
        }),
      );
      return { sdk, client };
    })());

  return {
    get calls() {
      return calls;
    },
    get throttledCalls() {
      return throttledCalls;
    },
    async discover(namespace, service, signal) {
      const { sdk, client } = await load();
      if (closed) throw new CloudMapDiscoveryError('aborted', 'the client is closed');
      // A timer of our own, not AbortSignal.timeout: that one does not keep the event loop alive.
      const timeout = new AbortController();
      const timer = setTimeout(() => timeout.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      const combined = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
      calls++;
      try {
        const command = new sdk.DiscoverInstancesCommand({
          NamespaceName: namespace,
          ServiceName: service,
          HealthStatus: 'HEALTHY',
          MaxResults: MAX_DISCOVERED,
        });
        // The race makes an abort prompt even where the SDK call would not watch the signal.
        const sent = client.send(command, { abortSignal: combined });
        // When the race settles first, the SDK later rejects `sent` with its own AbortError; left
        // unhandled, that rejection would end the process.
        sent.catch(() => undefined);
        const out = await raceAbort(sent, combined);
        return instancesOf(out.Instances ?? []);
      } catch (err) {
        const e = signal?.aborted
          ? new CloudMapDiscoveryError('aborted', 'cancelled by the caller', undefined, { cause: err })
          : timeout.signal.aborted
            ? new CloudMapDiscoveryError('unreachable', `no answer within ${timeoutMs} ms`, 'TimeoutError', { cause: err })
            : classifyDiscoverError(err);
        if (e.throttled) throttledCalls++;
        throw e;
      } finally {
        clearTimeout(timer);
      }
    },
    close() {
      closed = true;
      void loading?.then(
        ({ client }) => client.destroy(),
        () => undefined,
      );
    },
  };
}

/** The instance the mirror wrote as `attributes` (attributes.ts, reversed); undefined without a usable address and port. */
export function instanceFromAttributes(instanceId: string, attributes: Readonly<Record<string, string>>): DiscoveredInstance | undefined {
  const address = attributes.AWS_INSTANCE_IPV4;
  const port = Number(attributes.AWS_INSTANCE_PORT);
  if (!address || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  const tagValue = attributes[TAGS_KEY];
  // The mirror drops tags holding a comma, so a split gives back exactly the tags it kept.
  const tags = tagValue ? tagValue.split(',') : [];
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(attributes))
    if (k.startsWith(META_PREFIX) && k.length > META_PREFIX.length) meta[k.slice(META_PREFIX.length)] = v;
  return { instanceId, address, port, tags, meta };
}

// Throttling as Cloud Map and the AWS SDK name it (RequestLimitExceeded is Cloud Map's own).
const THROTTLE_NAMES = new Set([
  'ThrottlingException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'Throttling',
  'ThrottledException',
  'SlowDown',
]);
// Network failures: the endpoint never answered.
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'ECONNABORTED',
]);
const TIMEOUT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);

/** Classifies an SDK or network error of a DiscoverInstances call. */
export function classifyDiscoverError(err: unknown): CloudMapDiscoveryError {
  if (err instanceof CloudMapDiscoveryError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    name?: unknown;
    code?: unknown;
    message?: unknown;
    $metadata?: { httpStatusCode?: unknown };
    $retryable?: { throttling?: unknown };
  };
  const name = typeof e.name === 'string' ? e.name : '';
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' && e.message ? e.message : name || String(err);
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  const opts = { cause: err };
  if (
    THROTTLE_NAMES.has(name) ||
    e.$retryable?.throttling === true ||
    status === 429 ||
    (status === 503 && /throttl|rate exceeded|slow down/i.test(message))
  ) {
    return new CloudMapDiscoveryError('throttled', message, name || String(status), opts);
  }
  if (
    NETWORK_CODES.has(code) ||
    TIMEOUT_NAMES.has(name) ||
    /socket hang up/i.test(message) ||
    status === 502 ||
    status === 503 ||
    status === 504
  ) {
    return new CloudMapDiscoveryError('unreachable', message, code || name || String(status), opts);
  }
  if (name === 'NamespaceNotFound' || name === 'ServiceNotFound') return new CloudMapDiscoveryError('not_found', message, name, opts);
  return new CloudMapDiscoveryError('failed', message, name || undefined, opts);
}

function instancesOf(raw: readonly { InstanceId?: string; Attributes?: Record<string, string> }[]): DiscoveredInstance[] {
  // Last copy wins: moto lists an id registered again twice (AWS updates it in place).
  const byId = new Map<string, DiscoveredInstance>();
  for (const r of raw) {
    if (!r.InstanceId) continue;
    const inst = instanceFromAttributes(r.InstanceId, r.Attributes ?? {});
    if (inst) byId.set(r.InstanceId, inst);
    else byId.delete(r.InstanceId);
  }
  return [...byId.values()];
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
