/**
 * A grpc-js resolver for `consul:///<service>?tag=&dc=&failover=` targets.
 * grpc-js keeps resolvers in a process-wide table by scheme, so the
 * registration holds no state: each channel carries its runtime's
 * ServiceWatchRegistry (and, optionally, its CallPolicy) in its options, and
 * every channel of a runtime shares one blocking query per service instead of
 * resolving on its own. With a CallPolicy, each report carries its service
 * config, and a change of policy is reported again with the same instances.
 */
import { experimental, type ChannelOptions } from '@grpc/grpc-js';
import type { ServiceInstance } from '../consul/service-instances';
import type { ServiceQuery } from '../discovery/service-query';
import type { ServiceWatchRegistry } from '../discovery/service-watch-registry';
import type { CallPolicy } from './call-policy';
import { parseConsulTargetPath } from './consul-target';
import { GrpcTargetError } from './errors';
import { createEndpointReporter, type EndpointReporter } from './resolver-listener';

/** The channel option that names the watch registry a `consul:` channel resolves through. */
export const WATCH_REGISTRY_OPTION = 'consul-grpc-lambda.watch_registry';
/** The channel option that names the CallPolicy whose service config the resolver reports. */
export const CALL_POLICY_OPTION = 'consul-grpc-lambda.call_policy';

/** An unchanged list is re-sent at most this often: LB policies ask to re-resolve on every failure. */
const MIN_REPUSH_MS = 1_000;

/** Channel options that make a `consul:` target resolve through `registry`, with `policy`'s service config. */
export function consulResolverOptions(registry: ServiceWatchRegistry, policy?: CallPolicy): ChannelOptions {
  return { [WATCH_REGISTRY_OPTION]: registry, ...(policy ? { [CALL_POLICY_OPTION]: policy } : {}) };
}

function registryOf(options: ChannelOptions, target: experimental.GrpcUri): ServiceWatchRegistry {
  // ChannelOptions is an untyped bag in grpc-js; the only writer of this key is consulResolverOptions.
  const registry = options[WATCH_REGISTRY_OPTION] as ServiceWatchRegistry | undefined;
  if (!registry) throw new GrpcTargetError(`channel for ${experimental.uriToString(target)} has no ${WATCH_REGISTRY_OPTION} option`);
  return registry;
}

class ConsulResolver implements experimental.Resolver {
  private readonly query: ServiceQuery;
  private readonly registry: ServiceWatchRegistry;
  private readonly policy?: CallPolicy;
  private readonly report: EndpointReporter;
  private unsubscribe?: () => void;
  private unsubscribePolicy?: () => void;
  private lastPushed?: readonly ServiceInstance[];
  private lastPushAt = 0;
  private destroyed = false;

  constructor(target: experimental.GrpcUri, listener: experimental.ResolverListener, options: ChannelOptions) {
    this.query = parseConsulTargetPath(target.path);
    this.registry = registryOf(options, target);
    // Same untyped bag; the only writer of this key is consulResolverOptions.
    this.policy = options[CALL_POLICY_OPTION] as CallPolicy | undefined;
    this.report = createEndpointReporter(listener);
  }

  static getDefaultAuthority(target: experimental.GrpcUri): string {
    return parseConsulTargetPath(target.path).service;
  }

  updateResolution(): void {
    this.destroyed = false;
    const watch = this.registry.get(this.query);
    this.unsubscribe ??= watch.subscribe((list) => this.push(list, false));
    this.unsubscribePolicy ??= this.policy?.subscribe(() => {
      if (this.lastPushed) this.push(this.lastPushed, false);
    });
    watch.ensureFresh();
    const list = watch.current();
    if (list) this.push(list, true);
  }

  destroy(): void {
    this.destroyed = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.unsubscribePolicy?.();
    this.unsubscribePolicy = undefined;
  }

  private push(list: readonly ServiceInstance[], onRequest: boolean): void {
    const now = Date.now();
    if (onRequest && list === this.lastPushed && now - this.lastPushAt < MIN_REPUSH_MS) return;
    this.lastPushed = list;
    this.lastPushAt = now;
    // grpc-js forbids calling the listener synchronously from updateResolution.
    setImmediate(() => {
      if (!this.destroyed) this.report(list, this.policy?.serviceConfig());
    });
  }
}

let registered = false;

/** Registers the stateless `consul` scheme with grpc-js; idempotent. */
export function registerConsulResolver(): void {
  if (registered) return;
  experimental.registerResolver('consul', ConsulResolver);
  registered = true;
}
