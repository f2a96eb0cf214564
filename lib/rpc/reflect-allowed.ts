/**
 * With `rpcReflection` on: on the first invocation of an execution environment, the descriptors of every
 * allow-listed gRPC service that proto/ does not ship are asked of one of its backends (server
 * reflection) and added to the runtime's registry and routes. Kept for the environment's life; a
 * service that could not be reflected is tried again on the next invocation, and until then it answers
 * 404 like any unknown method.
 */
import { consulTarget } from '../grpc/consul-target';
import { callBudgetMs } from '../grpc/deadline';
import { errorSummary } from '../log/logger';
import { requestCredentials } from '../runtime/gateway-credentials';
import { presentedIdentity } from '../runtime/gateway-keys';
import { reflectService } from './reflection';
import type { RpcConfig } from './rpc-config';
import type { RpcRuntime } from './rpc-runtime';
import { callRoute, serviceRoute } from './service-map';

/** The channel key of reflection calls: apart from the service's own channel and its hedging policy. */
const REFLECTION = 'grpc.reflection.v1.ServerReflection';

/** Reflects the allow-listed services the registry lacks, within the cold-start wait; never throws (failures are logged). */
export async function reflectAllowed(rt: RpcRuntime, cfg: RpcConfig, remainingMs: () => number | undefined): Promise<void> {
  const services = [...new Set(cfg.rpcAllow.map((entry) => entry.slice(0, entry.indexOf('/'))))].filter(
    (s) => !rt.descriptors.registry.getService(s),
  );
  if (!services.length) return;
  const started = performance.now();
  const deadline = Date.now() + callBudgetMs(cfg.coldStartWaitMs, remainingMs(), cfg.deadlineMarginMs);
  const known = new Set(rt.descriptors.files.map((f) => f.name));
  const results = await Promise.allSettled(
    services.map(async (service) => {
      const route = callRoute(serviceRoute(cfg.rpcServices, service), presentedIdentity(cfg));
      const { query } = route;
      const pending = requestCredentials(rt, route);
      const watch = rt.watches.get(query);
      watch.ensureFresh();
      const instances = watch.current() ?? (await watch.waitForFirst(Math.max(0, deadline - Date.now())));
      if (!instances?.length) throw new Error(`no healthy instance of ${query.service}`);
      const { creds, missing } = await pending.settle(() => Math.max(0, deadline - Date.now()));
      if (missing) throw new Error(missing);
      const target = consulTarget(query, pending.tlsServerName ? { tlsServerName: pending.tlsServerName } : {});
      const client = rt.channels.get(REFLECTION, target, cfg.channelMaxIdleMs, creds);
      return reflectService(client, service, rt.descriptors, known, deadline);
    }),
  );
  const files = results.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
  if (files.length) rt.addFiles(files);
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ service: services[i], error: errorSummary(r.reason) }] : []));
  rt.log.info('server reflection', {
    services: services.filter((_, i) => results[i]?.status === 'fulfilled'),
    files: files.length,
    ms: Math.round(performance.now() - started),
  });
  if (failed.length) rt.log.warn('server reflection failed; those services answer 404 until it succeeds', { failed });
}
