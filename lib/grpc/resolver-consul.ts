/**
 * A grpc-js resolver for `consul:///<service>?tag=&dc=` targets, fed by the
 * process's ServiceWatchRegistry, so every channel shares one blocking query
 * per service instead of resolving on its own.
 */
import { experimental, type ChannelOptions } from '@grpc/grpc-js';
import type { ServiceInstance, ServiceQuery } from '../consul/service-instances';
import type { ServiceWatchRegistry } from '../consul/service-watch-registry';
import { parseConsulTargetPath } from './consul-target';
import { createEndpointReporter, type EndpointReporter } from './resolver-listener';

/** An unchanged list is re-sent at most this often: LB policies ask to re-resolve on every failure. */
const MIN_REPUSH_MS = 1_000;

/** Registers the `consul` scheme with grpc-js, bound to `registry` (replacing any earlier one). */
export function registerConsulResolver(registry: ServiceWatchRegistry): void {
  class ConsulResolver implements experimental.Resolver {
    private readonly query: ServiceQuery;
    private readonly report: EndpointReporter;
    private unsubscribe?: () => void;
    private lastPushed?: readonly ServiceInstance[];
    private lastPushAt = 0;
    private destroyed = false;

    constructor(target: experimental.GrpcUri, listener: experimental.ResolverListener, _options: ChannelOptions) {
      this.query = parseConsulTargetPath(target.path);
      this.report = createEndpointReporter(listener);
    }

    static getDefaultAuthority(target: experimental.GrpcUri): string {
      return parseConsulTargetPath(target.path).service;
    }

    updateResolution(): void {
      this.destroyed = false;
      const watch = registry.get(this.query);
      this.unsubscribe ??= watch.subscribe((list) => this.push(list, false));
      watch.ensureFresh();
      const list = watch.current();
      if (list) this.push(list, true);
    }

    destroy(): void {
      this.destroyed = true;
      this.unsubscribe?.();
      this.unsubscribe = undefined;
    }

    private push(list: readonly ServiceInstance[], onRequest: boolean): void {
      const now = Date.now();
      if (onRequest && list === this.lastPushed && now - this.lastPushAt < MIN_REPUSH_MS) return;
      this.lastPushed = list;
      this.lastPushAt = now;
      // grpc-js forbids calling the listener synchronously from updateResolution.
      setImmediate(() => {
        if (!this.destroyed) this.report(list);
      });
    }
  }
  experimental.registerResolver('consul', ConsulResolver);
}
