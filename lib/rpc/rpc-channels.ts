/**
 * One grpc-js channel per `consul:` target for any gRPC service, reused for the life of the runtime
 * (the Greeter's pool does the same for its generated client). Each gRPC service has its own
 * MethodCallPolicy, so hedging follows that service's latency and covers its idempotent methods only;
 * the channel resolves through the runtime's watch registry like the Greeter's channels.
 */
import { Client, connectivityState, credentials, type ChannelCredentials } from '@grpc/grpc-js';
import type { ServiceWatchRegistry } from '../discovery/service-watch-registry';
import type { CallPolicySettings } from '../grpc/call-policy';
import { GREETER_CHANNEL_OPTIONS } from '../grpc/greeter-client-pool';
import { consulResolverOptions, registerConsulResolver } from '../grpc/resolver-consul';
import { MethodCallPolicy, type MethodName } from './method-policy';

interface Entry {
  client: Client;
  createdAt: number;
  lastUsedAt: number;
}

/** Channels by target, and a call policy per gRPC service. */
export class RpcChannels {
  private readonly entries = new Map<string, Entry>();
  private readonly policies = new Map<string, MethodCallPolicy>();

  constructor(
    private readonly watches: ServiceWatchRegistry,
    private readonly settings: () => CallPolicySettings,
    private readonly now: () => number = Date.now,
  ) {
    registerConsulResolver();
  }

  /** The policy of gRPC service `grpcService`, whose idempotent methods are `idempotent` (fixed by the descriptors). */
  policy(grpcService: string, idempotent: readonly MethodName[]): MethodCallPolicy {
    let p = this.policies.get(grpcService);
    if (!p) this.policies.set(grpcService, (p = new MethodCallPolicy(this.settings, idempotent)));
    return p;
  }

  /**
   * The channel of gRPC service `grpcService` to `target` with `policy`, replaced first if idle longer than
   * `maxIdleMs`; `creds` apply when it is created. Two gRPC services served by one Consul service get a channel each.
   */
  get(grpcService: string, target: string, policy: MethodCallPolicy, maxIdleMs: number, creds?: () => ChannelCredentials): Client {
    const now = this.now();
    const key = `${grpcService} ${target}`;
    let entry = this.entries.get(key);
    if (entry && now - entry.lastUsedAt > maxIdleMs) {
      entry.client.close();
      entry = undefined;
    }
    if (!entry) {
      const options = {
        ...GREETER_CHANNEL_OPTIONS,
        'grpc.service_config': JSON.stringify(policy.serviceConfig()),
        ...consulResolverOptions(this.watches, policy),
      };
      entry = { client: new Client(target, creds ? creds() : credentials.createInsecure(), options), createdAt: now, lastUsedAt: now };
      this.entries.set(key, entry);
    }
    entry.lastUsedAt = now;
    return entry.client;
  }

  /** What /status would show: the policies' state per gRPC service. */
  snapshot(): Record<string, ReturnType<MethodCallPolicy['snapshot']>> {
    return Object.fromEntries([...this.policies].map(([name, p]) => [name, p.snapshot()]));
  }

  /** True while the channel of `grpcService` to `target` is younger than a second (its other instances may still be connecting). */
  isNew(grpcService: string, target: string): boolean {
    const entry = this.entries.get(`${grpcService} ${target}`);
    return entry !== undefined && this.now() - entry.createdAt < 1_000;
  }

  /** True when the channel of `grpcService` to `target` is in TRANSIENT_FAILURE: no instance it knows accepts connections. */
  allRefused(grpcService: string, target: string): boolean {
    const state = this.entries.get(`${grpcService} ${target}`)?.client.getChannel().getConnectivityState(false);
    return state === connectivityState.TRANSIENT_FAILURE;
  }

  /** Closes every channel. */
  closeAll(): void {
    for (const e of this.entries.values()) e.client.close();
    this.entries.clear();
  }
}
