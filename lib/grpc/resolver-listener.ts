/**
 * The one place that speaks grpc-js's resolver listener API.
 *
 * grpc-js changed that API in 1.14 (an object with onSuccessfulResolution /
 * onError became a single function taking StatusOr<Endpoint[]>); grpc-js is
 * pinned and test/unit/grpc/resolver-listener.test.ts holds the contract.
 */
import { experimental, type ServiceConfig } from '@grpc/grpc-js';
import type { ServiceInstance } from '../consul/service-instances';
import type { ServiceConfigJson } from './call-policy';

/** Sends an instance list (and a service config, if any) to grpc-js; returns whether the LB policy accepted it. */
export type EndpointReporter = (instances: readonly ServiceInstance[], serviceConfig?: ServiceConfigJson) => boolean;

/** grpc-js endpoints for the instances: one address each. */
export function toEndpoints(instances: readonly ServiceInstance[]): experimental.Endpoint[] {
  return instances.map((i) => ({ addresses: [{ host: i.address, port: i.port }] }));
}

/** Wraps a grpc-js 1.14 listener. No service config keeps the channel's default one. */
export function createEndpointReporter(listener: experimental.ResolverListener): EndpointReporter {
  return (instances, serviceConfig) => {
    const config: experimental.StatusOr<ServiceConfig> | null = serviceConfig ? experimental.statusOrFromValue(serviceConfig) : null;
    return listener(
      experimental.statusOrFromValue(toEndpoints(instances)),
      {},
      config,
      instances.length ? '' : 'no passing instance in Consul',
    );
  };
}
