/** The `/status` view: effective config with sources, the discovery source and which one served, discovered instances, indexes. */
import { greeterQuery } from './greet';
import type { GatewayRuntime } from './gateway-runtime';

const SECRET_KEY = /token|secret|password|key$/i;

/** A JSON-ready status document; tokens and secret-looking keys are redacted. */
export async function gatewayStatus(rt: GatewayRuntime): Promise<Record<string, unknown>> {
  const loaded = await rt.begin();
  const watch = rt.watches.get(greeterQuery(loaded.values));
  watch.ensureFresh();
  await watch.waitForFirst(loaded.values.coldStartWaitMs);
  const config: Record<string, { value: unknown; source: string }> = {
    consulAddress: { value: rt.env.consulAddress, source: 'env' },
    consulToken: rt.env.consulToken
      ? { value: '[redacted]', source: 'env' }
      : { value: rt.env.consulTokenParameter ? `[redacted, from ${rt.env.consulTokenParameter}]` : null, source: 'ssm' },
    configPrefix: { value: rt.env.configPrefix, source: 'env' },
  };
  for (const [key, value] of Object.entries(loaded.values)) {
    config[key] = { value: SECRET_KEY.test(key) ? '[redacted]' : value, source: loaded.sources[key as keyof typeof loaded.sources] };
  }
  return {
    config,
    configIndex: loaded.index ?? null,
    // A stale read (no leader during an election) says how long since its server heard from one.
    configFreshness: loaded.freshness ?? null,
    consulAddressInUse: rt.consul.address,
    consulFailovers: rt.consul.failovers,
    configProblems: loaded.problems,
    // Which source serves (DISCOVERY_SOURCE, its fallbacks and, with them, whether one is serving now).
    discoverySource: rt.discovery.snapshot(),
    discovery: rt.watches.all().map((w) => {
      const s = w.snapshot();
      return {
        ...s,
        servedBy: rt.discovery.servedBy(s.query) ?? null,
        instances: (s.instances ?? []).map(({ id, address, port, tags }) => ({ id, address, port, tags })),
      };
    }),
    consulRequests: Object.fromEntries(rt.consul.requestCounts),
    channelsReplaced: rt.channels.replacedCount(),
    connect: rt.connectIdentities().map((c) => c.snapshot()),
    calls: rt.callPolicy.snapshot(),
    lease: loaded.values.leaseEnabled ? rt.lease.snapshot() : { enabled: false },
    environmentStartedAt: new Date(rt.startedAt).toISOString(),
  };
}
