/**
 * Reused Greeter clients, one channel per target, for the life of the
 * function's runtime. A channel left idle longer than `maxIdleMs` is
 * replaced before use: after a Lambda freeze its connections can look READY
 * and then fail (grpc-node #2285), and a fresh connection costs ~1 ms.
 */
import { connectivityState, credentials, type ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';
import { GreeterClient } from '../../proto/gen/helloworld';
import type { ServiceWatchRegistry } from '../discovery/service-watch-registry';
import type { CallPolicy } from './call-policy';
import { consulResolverOptions, registerConsulResolver } from './resolver-consul';

/** Channel options: round robin (only the loadBalancingConfig form selects it) until a CallPolicy's config replaces it. */
export const GREETER_CHANNEL_OPTIONS: ChannelOptions = {
  'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
  // grpc-js caps attempts at 5 unless told otherwise; maxAttempts allows 10.
  'grpc-node.retry_max_attempts_limit': 10,
  // Reconnect fast after a backend restart; RR skips failed subchannels meanwhile.
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 5_000,
};

interface Entry {
  client: GreeterClient;
  createdAt: number;
  lastUsedAt: number;
}

/** A channel this young may still be connecting to its other instances. */
const NEW_CHANNEL_MS = 1_000;

/** Holds one GreeterClient per target; `consul:` targets resolve through `watches`, with `policy`'s hedging and ejection. */
export class GreeterClientPool {
  private readonly entries = new Map<string, Entry>();
  private readonly options: ChannelOptions;
  private replaced = 0;

  constructor(
    watches: ServiceWatchRegistry,
    private readonly now: () => number = Date.now,
    policy?: CallPolicy,
  ) {
    registerConsulResolver();
    this.options = {
      ...GREETER_CHANNEL_OPTIONS,
      ...(policy ? { 'grpc.service_config': JSON.stringify(policy.serviceConfig()) } : {}),
      ...consulResolverOptions(watches, policy),
    };
  }

  /**
   * The client for `target`, replaced first if idle longer than `maxIdleMs`. `creds` (default plaintext)
   * are used when the channel is created; a target keeps the credentials it was created with.
   */
  get(target: string, maxIdleMs: number, creds?: () => ChannelCredentials): GreeterClient {
    const now = this.now();
    let entry = this.entries.get(target);
    if (entry && now - entry.lastUsedAt > maxIdleMs) {
      entry.client.close();
      this.replaced++;
      entry = undefined;
    }
    if (!entry) {
      entry = {
        client: new GreeterClient(target, creds ? creds() : credentials.createInsecure(), this.options),
        createdAt: now,
        lastUsedAt: now,
      };
      this.entries.set(target, entry);
    }
    entry.lastUsedAt = now;
    return entry.client;
  }

  /** True while the channel for `target` is younger than a second (see greeter-call.ts). */
  isNew(target: string): boolean {
    const entry = this.entries.get(target);
    return entry !== undefined && this.now() - entry.createdAt < NEW_CHANNEL_MS;
  }

  /** True when the channel for `target` is in TRANSIENT_FAILURE: no instance it knows accepts connections. */
  allRefused(target: string): boolean {
    return this.entries.get(target)?.client.getChannel().getConnectivityState(false) === connectivityState.TRANSIENT_FAILURE;
  }

  /** Closes and forgets the channel for `target`, if any (a cold start's guess that the config did not confirm). */
  discard(target: string): void {
    this.entries.get(target)?.client.close();
    this.entries.delete(target);
  }

  /** How many channels were replaced for being idle too long. */
  replacedCount(): number {
    return this.replaced;
  }

  /** Closes every channel. */
  closeAll(): void {
    for (const e of this.entries.values()) e.client.close();
    this.entries.clear();
  }
}
