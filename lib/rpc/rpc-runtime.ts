/**
 * What lives across warm invocations of the rpc function: the shared function runtime, the shipped
 * descriptors and their route table, and the call state every gateway function keeps
 * (lib/runtime/gateway-calls.ts: the discovery source named by DISCOVERY_SOURCE and DISCOVERY_FALLBACK,
 * one watch per mapped Consul service, the channels with a call policy per gRPC service, the Connect
 * certificates of the identity it presents, the backends' CA), and metrics.
 */
import type { FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import { readDiscoveryEnvironment } from '../config/environment';
import type { Log } from '../log/logger';
import type { FunctionMetrics } from '../metrics/function-metrics';
import { createFunctionRuntime, type FunctionRuntime } from '../runtime/function-runtime';
import { createGatewayCalls, type GatewayCalls } from '../runtime/gateway-calls';
import { createRuntimeMetrics } from '../runtime/runtime-metrics';
import { shippedDescriptors, withFiles, type Descriptors } from './descriptors';
import { RPC_KEYS } from './rpc-config';
import { buildRouteTable, type RouteTable } from './routes';

/** Everything an rpc invocation reuses. */
export interface RpcRuntime extends FunctionRuntime<typeof RPC_KEYS>, Omit<GatewayCalls, 'close'> {
  /** The shipped descriptors, plus what server reflection added (rpcReflection). */
  descriptors: Descriptors;
  routes: RouteTable;
  /** Adds reflected files to `descriptors` and rebuilds `routes`; throws when they do not resolve. */
  addFiles(files: readonly FileDescriptorProto[]): void;
  metrics: FunctionMetrics;
}

/** Builds the rpc runtime from the environment; throws ConfigError on a bad one. */
export function createRpcRuntime(log: Log): RpcRuntime {
  // Read first: a bad discovery setting is a ConfigError before anything is built.
  const discoveryEnv = readDiscoveryEnvironment();
  const base = createFunctionRuntime(RPC_KEYS, log);
  const calls = createGatewayCalls({ consul: base.consul, secrets: base.secrets, values: () => base.config.values(), discoveryEnv }, log);
  const descriptors = shippedDescriptors();
  const rt: RpcRuntime = {
    ...base,
    ...calls,
    descriptors,
    routes: buildRouteTable(descriptors),
    addFiles(files) {
      const next = withFiles(rt.descriptors, files);
      rt.routes = buildRouteTable(next);
      rt.descriptors = next;
    },
    metrics: createRuntimeMetrics({ ...base, discovery: calls.discovery.fallback }),
    close() {
      calls.close();
      base.close();
    },
  };
  return rt;
}
