/**
 * What lives across warm invocations of the rpc function: the shared function runtime, the shipped
 * descriptors and their route table, one discovery watch per mapped Consul service (the registry
 * starts them on first use), the channels with a call policy per gRPC service, the Connect
 * certificates of the identity it presents, and metrics. Discovery reads Consul's blocking queries.
 */
import { ConnectCertificates } from '../connect/connect-certificates';
import { consulHealthSource } from '../discovery/health-source';
import { ServiceWatchRegistry } from '../discovery/service-watch-registry';
import type { Log } from '../log/logger';
import type { FunctionMetrics } from '../metrics/function-metrics';
import { createFunctionRuntime, type FunctionRuntime } from '../runtime/function-runtime';
import { createRuntimeMetrics } from '../runtime/runtime-metrics';
import type { FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import { shippedDescriptors, withFiles, type Descriptors } from './descriptors';
import { RpcChannels } from './rpc-channels';
import { RPC_KEYS } from './rpc-config';
import { buildRouteTable, type RouteTable } from './routes';

/** Everything an rpc invocation reuses. */
export interface RpcRuntime extends FunctionRuntime<typeof RPC_KEYS> {
  /** The shipped descriptors, plus what server reflection added (rpcReflection). */
  descriptors: Descriptors;
  routes: RouteTable;
  /** Adds reflected files to `descriptors` and rebuilds `routes`; throws when they do not resolve. */
  addFiles(files: readonly FileDescriptorProto[]): void;
  watches: ServiceWatchRegistry;
  channels: RpcChannels;
  metrics: FunctionMetrics;
  /** The Connect certificates of `identity`, watched in the background from first use on. */
  connectCertificates(identity: string): ConnectCertificates;
}

/** Builds the rpc runtime from the environment; throws ConfigError on a bad one. */
export function createRpcRuntime(log: Log): RpcRuntime {
  const base = createFunctionRuntime(RPC_KEYS, log);
  const descriptors = shippedDescriptors();
  const watchOptions = () => {
    const v = base.config.values();
    return {
      waitSeconds: v.discoveryWaitSeconds,
      minIntervalMs: v.discoveryMinIntervalMs,
      backoffBaseMs: v.discoveryBackoffBaseMs,
      backoffMaxMs: v.discoveryBackoffMaxMs,
    };
  };
  const watches = new ServiceWatchRegistry(consulHealthSource(base.consul), watchOptions, log);
  const channels = new RpcChannels(watches, () => {
    const v = base.config.values();
    return {
      maxAttempts: v.maxAttempts,
      hedgeMinDelayMs: v.hedgeMinDelayMs,
      hedgeMaxDelayMs: v.hedgeMaxDelayMs,
      ejectionFailurePercent: v.ejectionFailurePercent,
      ejectionMinRequests: v.ejectionMinRequests,
      ejectionBaseMs: v.ejectionBaseMs,
    };
  });
  const identities = new Map<string, ConnectCertificates>();
  const rt: RpcRuntime = {
    ...base,
    descriptors,
    routes: buildRouteTable(descriptors),
    addFiles(files) {
      const next = withFiles(rt.descriptors, files);
      rt.routes = buildRouteTable(next);
      rt.descriptors = next;
    },
    watches,
    channels,
    metrics: createRuntimeMetrics(base),
    connectCertificates(identity) {
      let certs = identities.get(identity);
      if (!certs) identities.set(identity, (certs = new ConnectCertificates(base.consul, identity, log)));
      certs.start();
      return certs;
    },
    close() {
      for (const c of identities.values()) c.stop();
      identities.clear();
      watches.stopAll();
      channels.closeAll();
      base.close();
    },
  };
  return rt;
}
