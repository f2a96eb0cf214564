/**
 * Reused grpc-js channels for any gRPC service, one per (gRPC service, `consul:` target), for the life
 * of the function's runtime, each with the call policy of its gRPC service (hedging follows that
 * service's latency and covers its idempotent methods only). A channel left idle longer than
 * `maxIdleMs` is replaced before use: after a Lambda freeze its connections can look READY and then
 * fail (grpc-node #2285), and a fresh connection costs ~1 ms.
 */
import { Client, connectivityState, credentials, type ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';
import type { ServiceWatchRegistry } from '../discovery/service-watch-registry';
import type { CallPolicySettings } from './call-policy';
import { MethodCallPolicy, type MethodName } from './method-call-policy';
import { consulResolverOptions, registerConsulResolver } from './resolver-consul';

/** Channel options: round robin (only the loadBalancingConfig form selects it) until a call policy's config replaces it. */
export const CHANNEL_OPTIONS: ChannelOptions = {
  'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
  // grpc-js caps attempts at 5 unless told otherwise; maxAttempts allows 10.
  'grpc-node.retry_max_attempts_limit': 10,
  // Reconnect fast after a backend restart; RR skips failed subchannels meanwhile.
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 5_000,
};

interface Entry {
  client: Client;
  createdAt: number;
  lastUsedAt: number;
}

/** A channel this young may still be connecting to its other instances. */
const NEW_CHANNEL_MS = 1_000;

/** Channels by gRPC service and target, and a call policy per gRPC service; `consul:` targets resolve through `watches`. */
export class ChannelPool {
  private readonly entries = new Map<string, Entry>();
  private readonly policies = new Map<string, MethodCallPolicy>();
  private replaced = 0;

  constructor(
    private readonly watches: ServiceWatchRegistry,
    private readonly settings: () => CallPolicySettings,
    private readonly now: () => number = Date.now,
  ) {
    registerConsulResolver();
  }

  /** The policy of gRPC service `grpcService`, created on first use with `hedged` (its idempotent methods) and kept. */
  policy(grpcService: string, hedged: readonly MethodName[] = []): MethodCallPolicy {
    let p = this.policies.get(grpcService);
    if (!p) this.policies.set(grpcService, (p = new MethodCallPolicy(this.settings, hedged)));
    return p;
  }

  /**
   * The channel of `grpcService` to `target`, replaced first if idle longer than `maxIdleMs`. `creds` (default
   * plaintext) apply when it is created; two gRPC services served by one Consul service get a channel each.
   */
  get(grpcService: string, target: string, maxIdleMs: number, creds?: () => ChannelCredentials): Client {
    const now = this.now();
    const key = `${grpcService} ${target}`;
    let entry = this.entries.get(key);
    if (entry && now - entry.lastUsedAt > maxIdleMs) {
      entry.client.close();
      this.replaced++;
      entry = undefined;
    }
    if (!entry) {
      const policy = this.policy(grpcService);
      const options = {
        ...CHANNEL_OPTIONS,
        'grpc.service_config': JSON.stringify(policy.serviceConfig()),
        ...consulResolverOptions(this.watches, policy),
      };
      entry = { client: new Client(target, creds ? creds() : credentials.createInsecure(), options), createdAt: now, lastUsedAt: now };
      this.entries.set(key, entry);
    }
    entry.lastUsedAt = now;
    return entry.client;
  }

  /** True while the channel of `grpcService` to `target` is younger than a second (see unary-call.ts). */
  isNew(grpcService: string, target: string): boolean {
    const entry = this.entries.get(`${grpcService} ${target}`);
    return entry !== undefined && this.now() - entry.createdAt < NEW_CHANNEL_MS;
  }

  /** True when the channel of `grpcService` to `target` is in TRANSIENT_FAILURE: no instance it knows accepts connections. */
  allRefused(grpcService: string, target: string): boolean {
    const state = this.entries.get(`${grpcService} ${target}`)?.client.getChannel().getConnectivityState(false);
    return state === connectivityState.TRANSIENT_FAILURE;
  }

  /** Closes and forgets the channel of `grpcService` to `target`, if any (a cold start's guess that the config did not confirm). */
  discard(grpcService: string, target: string): void {
    const key = `${grpcService} ${target}`;
    this.entries.get(key)?.client.close();
    this.entries.delete(key);
  }

  /** How many channels were replaced for being idle too long. */
  replacedCount(): number {
    return this.replaced;
  }

  /** The policies' state per gRPC service. */
  snapshot(): Record<string, ReturnType<MethodCallPolicy['snapshot']>> {
    return Object.fromEntries([...this.policies].map(([name, p]) => [name, p.snapshot()]));
  }

  /** Closes every channel. */
  closeAll(): void {
    for (const e of this.entries.values()) e.client.close();
    this.entries.clear();
  }
}
