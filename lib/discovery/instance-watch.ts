/** What the gateway and its gRPC resolver need from a watch, whether it follows one datacenter or several. */
import type { ServiceInstance } from '../consul/service-instances';
import type { ServiceQuery } from './service-query';

/** A followed list of passing instances. */
export interface InstanceWatch {
  readonly query: ServiceQuery;
  /** The cached passing instances, or undefined before the first answer. */
  current(): readonly ServiceInstance[] | undefined;
  /** Restarts a poll that outlived any answer Consul could give. */
  ensureFresh(): boolean;
  /** Resolves with the instances once known; undefined if the first poll failed or `timeoutMs` passed first. */
  waitForFirst(timeoutMs: number): Promise<readonly ServiceInstance[] | undefined>;
  /** Calls `fn` with every changed list; returns an unsubscribe function. */
  subscribe(fn: (instances: readonly ServiceInstance[]) => void): () => void;
}
