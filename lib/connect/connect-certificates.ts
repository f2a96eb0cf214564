/**
 * One Connect identity's certificates (its leaf and the CA roots) from the local agent, kept current by
 * two blocking queries in the background: the agent renews a leaf before it expires and answers the
 * blocking query at once, and a CA rotation changes the roots, so nothing waits for them on a warm path.
 */
import type { ConsulApi, Indexed } from '../consul/consul-api';
import type { Log } from '../log/logger';
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffMs } from '../util/backoff';

/** The material a Connect-native peer presents and verifies with. */
export interface ConnectMaterial {
  /** PEM of every root (active and not), so peers with a leaf from the previous root still verify. */
  rootsPem: string;
  trustDomain: string;
  certPem: string;
  keyPem: string;
  /** The SPIFFE URI the leaf certifies. */
  serviceUri: string;
  /** When the leaf stops being valid (ISO). */
  validBefore: string;
  /** Grows with every change of roots or leaf, so users can rebuild what they derived from it. */
  version: number;
}

/** Options of the watch loops. */
export interface ConnectCertificatesOptions {
  waitSeconds?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

/** Least time between two polls that saw no change. */
const MIN_POLL_MS = 1_000;

type RawRoots = { TrustDomain?: string; Roots?: { RootCert?: string; IntermediateCerts?: string[] | null }[] | null };
type RawLeaf = { CertPEM?: string; PrivateKeyPEM?: string; ServiceURI?: string; ValidBefore?: string };

/** Watches `/v1/agent/connect/ca/roots` and `/v1/agent/connect/ca/leaf/<service>` for one service identity. */
export class ConnectCertificates {
  private roots?: { pem: string; trustDomain: string };
  private leaf?: { certPem: string; keyPem: string; serviceUri: string; validBefore: string };
  private material?: ConnectMaterial;
  private version = 0;
  private controller?: AbortController;
  private readonly listeners = new Set<(m: ConnectMaterial) => void>();
  private readonly waiters = new Set<() => void>();
  private lastError?: string;
  private readonly opts: Required<ConnectCertificatesOptions>;

  constructor(
    private readonly api: ConsulApi,
    readonly service: string,
    private readonly log: Log,
    opts: ConnectCertificatesOptions = {},
  ) {
    this.opts = {
      waitSeconds: opts.waitSeconds ?? 300,
      backoffBaseMs: opts.backoffBaseMs ?? 250,
      backoffMaxMs: opts.backoffMaxMs ?? 10_000,
    };
  }

  /** Starts both watches (idempotent). */
  start(): void {
    if (this.controller) return;
    const controller = new AbortController();
    this.controller = controller;
    void this.loop('consul.agent.connect.ca.roots', '/agent/connect/ca/roots', controller.signal, (v) => this.setRoots(v as RawRoots));
    void this.loop('consul.agent.connect.ca.leaf', `/agent/connect/ca/leaf/${encodeURIComponent(this.service)}`, controller.signal, (v) =>
      this.setLeaf(v as RawLeaf),
    );
  }

  /** The current material, or undefined until both the roots and the leaf arrived. */
  current(): ConnectMaterial | undefined {
    return this.material;
  }

  /** The material, waiting at most `timeoutMs` for the first answers (a cold start only). */
  async ready(timeoutMs: number): Promise<ConnectMaterial | undefined> {
    this.start();
    if (this.material) return this.material;
    let done: () => void = () => undefined;
    const arrived = new Promise<void>((resolve) => {
      done = resolve;
      this.waiters.add(resolve);
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([arrived, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    this.waiters.delete(done);
    return this.material;
  }

  /** Calls `fn` with every new material; returns the unsubscribe function. */
  onChange(fn: (m: ConnectMaterial) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** For /status and logs: no key material. */
  snapshot(): Record<string, unknown> {
    const m = this.material;
    return {
      service: this.service,
      ready: m !== undefined,
      serviceUri: m?.serviceUri ?? null,
      validBefore: m?.validBefore ?? null,
      trustDomain: m?.trustDomain ?? null,
      version: this.version,
      lastError: this.lastError ?? null,
    };
  }

  /** Stops both watches. */
  stop(): void {
    this.controller?.abort();
    this.controller = undefined;
  }

  private async loop(operation: string, path: string, signal: AbortSignal, apply: (value: unknown) => void): Promise<void> {
    let index: string | undefined;
    let failures = 0;
    const { waitSeconds } = this.opts;
    while (!signal.aborted) {
      const started = Date.now();
      try {
        const res: Indexed<unknown> = await this.api.requestIndexed(
          operation,
          index
            ? { signal, blocking: true, timeoutMs: waitSeconds * 1000 + Math.ceil((waitSeconds * 1000) / 16) + 5_000 }
            : { signal, timeoutMs: 5_000 },
          { path, ...(index ? { query: { index, wait: `${waitSeconds}s` } } : {}) },
        );
        failures = 0;
        this.lastError = undefined;
        // An index that went backwards (agent restart) starts over; the same index is a timeout: nothing changed.
        const same = index !== undefined && res.index === index;
        if (!same) apply(res.value);
        index = Number(res.index) > 0 && (index === undefined || Number(res.index) >= Number(index)) ? res.index : undefined;
        // A blocking query that returns at once with the same index would spin: pause instead.
        if (same && Date.now() - started < MIN_POLL_MS) await sleep(MIN_POLL_MS, undefined, { signal, ref: false }).catch(() => undefined);
      } catch (err) {
        if (signal.aborted) return;
        failures++;
        this.lastError = err instanceof Error ? err.message : String(err);
        this.log.warn('connect certificate watch failed', { operation, service: this.service, failures, error: this.lastError });
        index = undefined;
        await sleep(backoffMs(failures, this.opts.backoffBaseMs, this.opts.backoffMaxMs), undefined, { signal, ref: false }).catch(
          () => undefined,
        );
      }
    }
  }

  private setRoots(raw: RawRoots): void {
    const pems = (raw.Roots ?? []).flatMap((r) => [r.RootCert ?? '', ...(r.IntermediateCerts ?? [])]).filter((p) => p.trim() !== '');
    if (!pems.length || !raw.TrustDomain) return;
    const pem = pems.map((p) => p.trim()).join('\n') + '\n';
    if (this.roots?.pem === pem) return;
    this.roots = { pem, trustDomain: raw.TrustDomain };
    this.publish();
  }

  private setLeaf(raw: RawLeaf): void {
    if (!raw.CertPEM || !raw.PrivateKeyPEM || !raw.ServiceURI) return;
    if (this.leaf?.certPem === raw.CertPEM) return;
    this.leaf = { certPem: raw.CertPEM, keyPem: raw.PrivateKeyPEM, serviceUri: raw.ServiceURI, validBefore: raw.ValidBefore ?? '' };
    this.publish();
  }

  private publish(): void {
    if (!this.roots || !this.leaf) return;
    this.version++;
    const m: ConnectMaterial = { rootsPem: this.roots.pem, trustDomain: this.roots.trustDomain, ...this.leaf, version: this.version };
    this.material = m;
    for (const w of this.waiters) w();
    this.waiters.clear();
    for (const fn of this.listeners) fn(m);
  }
}
