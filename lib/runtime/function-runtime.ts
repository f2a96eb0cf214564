/**
 * The part of every function's runtime that is the same for all of them: its
 * environment, logger, secrets, Consul client, config store and environment
 * lease. A domain runtime (gateway, registry, health-sync) adds its own parts
 * on top; the function's runtime slot holds the one instance.
 */
import { createConsulApi, type ConsulApi, type ConsulTls } from '../consul/consul-api';
import { ConsulTlsError } from '../consul/errors';
import { ConfigStore, type LoadedConfig } from '../config/config-store';
import { readFunctionEnvironment, resolveConsulTls, secretVariables, type FunctionEnvironment } from '../config/environment';
import type { ConfigValues, KeySpecs } from '../config/key-specs';
import { createSecretResolver, type SecretResolver } from '../config/secrets';
import { EnvironmentLease } from '../lease/environment-lease';
import { leaseSettingsFrom } from '../lease/lease-config';
import { releaseOnSigterm } from '../lease/release-on-sigterm';
import type { Log } from '../log/logger';
import { coldStartTrace, type ColdStartTrace } from './cold-start-trace';
import type { runtimeKeys } from './runtime-keys';

/** Key sets that include the shared keys (refresh age, lease). */
export type RuntimeKeySpecs = KeySpecs & ReturnType<typeof runtimeKeys>;

/** The shared part of a function's per-environment state. */
export interface FunctionRuntime<S extends RuntimeKeySpecs> {
  env: FunctionEnvironment;
  log: Log;
  secrets: SecretResolver;
  consul: ConsulApi;
  config: ConfigStore<S>;
  lease: EnvironmentLease;
  /** This environment's cold-start trace (injected by tests; else the process's, on with COLD_START_TRACE=1). */
  coldStart: ColdStartTrace;
  startedAt: number;
  /**
   * The start of every invocation: token (once), config (read on cold start only), lease renewal.
   * `leaseInParallel` returns without waiting for the cold start's lease registration, so the use case
   * can discover and connect meanwhile; it must then await `leaseSettled()` before it answers.
   * `beforeConfig` runs once the token is known and before a cold start's config read, so the use
   * case can start a request it will probably need alongside that read.
   */
  begin(opts?: { lease?: boolean; leaseInParallel?: boolean; beforeConfig?: () => void }): Promise<LoadedConfig<S>>;
  /**
   * `begin` for a warm environment, without an await: the config as loaded (its refresh, when due, goes
   * on in the background, as `begin` does), and a due lease renewal started as with `leaseInParallel`, so
   * the use case must await `leaseSettled()` before it answers. Undefined while `begin` still has
   * something to wait for (the first invocation, or one whose token or TLS check has not succeeded yet).
   */
  beginWarm(opts?: { lease?: boolean }): LoadedConfig<S> | undefined;
  /**
   * Resolves once the lease work the last `begin` started, or found under way, has finished (a renewal
   * only briefly, as touch() holds it); never rejects (the lease logs its own failures).
   */
  leaseSettled(): Promise<void>;
  /**
   * Runs `hook` when Lambda shuts the environment down (SIGTERM, sent when an extension is registered),
   * before the lease is released: synchronous work only, such as writing the metrics still buffered.
   */
  onShutdown(hook: () => void): void;
  /** Stops using the environment's resources (tests, shutdown). */
  close(): void;
}

/** How long the cold-start TLS check waits for an answer before leaving an unreachable Consul to the config store. */
const TLS_CHECK_TIMEOUT_MS = 1_000;

/** Builds the shared runtime from the environment and the function's key set (`deps` replace the Consul client and the trace, for tests); throws ConfigError on a bad environment. */
export function createFunctionRuntime<S extends RuntimeKeySpecs>(
  specs: S,
  log: Log,
  env: FunctionEnvironment = readFunctionEnvironment(),
  deps: { consul?: ConsulApi; trace?: ColdStartTrace } = {},
): FunctionRuntime<S> {
  const trace = deps.trace ?? coldStartTrace;
  let token = env.consulToken;
  let tls: ConsulTls | undefined;
  let resolving: Promise<void> | undefined;
  const secrets = createSecretResolver(secretVariables());
  const consul = deps.consul ?? createConsulApi({ address: env.consulAddress, token: () => token, tls: () => tls });
  // A list is all https or all http (parseConsulAddresses), so the first address says which.
  const secure = consul.address.startsWith('https:');
  const config = new ConfigStore(consul, env.configPrefix, specs, log);
  const lease = new EnvironmentLease(consul, log);
  const shutdownHooks: Array<() => void> = [];
  const stopReleasing = releaseOnSigterm(lease, log, shutdownHooks);
  trace.mark('handler');
  const settled: Promise<void> = Promise.resolve();
  let leasing = settled;
  // The lease work under way, whichever invocation started it. Invocations run concurrently in one
  // environment on Lambda Managed Instances: one that finds nothing to start waits for it too, so that
  // none answers before the cold start's registration has landed (renewals hold it briefly, as touch() does).
  let pending: Promise<void> | undefined;
  let begun = false;
  // True once the token (and TLS check) resolved: a warm invocation has nothing left to wait for there.
  let isReady = false;
  // Resolves the Consul token and, for https, the TLS material (from files, or SSM when so
  // configured) once per environment, then checks that the agent's certificate verifies;
  // a failure is retried by the next invocation rather than cached.
  const ready = () => {
    resolving ??= (async () => {
      const [t, material] = await Promise.all([
        secrets.resolve('CONSUL_HTTP_TOKEN'),
        secure ? resolveConsulTls(env.consulTls, secrets) : undefined,
      ]);
      token = t;
      tls = material;
      if (secure) await checkTls(consul);
      isReady = true;
    })();
    return resolving.catch((err: unknown) => {
      resolving = undefined;
      throw err;
    });
  };
  /** Sets `leasing` to the lease work `loaded` asks for: started now, already under way (`pending`), or none (settled). */
  const touchLease = (loaded: LoadedConfig<S>, wanted: boolean | undefined): void => {
    const v = loaded.values as ConfigValues<RuntimeKeySpecs>;
    const settings = v.leaseEnabled && wanted !== false ? leaseSettingsFrom(v) : undefined;
    // Nothing to start here (no lease wanted, or none due): still the work another invocation has under
    // way, never "settled" over it, so that this invocation cannot release the others early.
    if (!settings || !lease.needsTouch(settings)) {
      leasing = pending ?? settled;
      return;
    }
    // On defaults because Consul did not answer: register the lease without waiting for it again.
    // touch() never rejects, so a lease left running in parallel cannot become an unhandled rejection.
    const touching = lease.touch(settings, loaded.index !== undefined);
    const work = trace.active ? touching.then(() => trace.mark('lease')) : touching;
    pending = leasing = work;
    void work.then(() => {
      if (pending === work) pending = undefined;
    });
  };
  return {
    env,
    log,
    secrets,
    consul,
    config,
    lease,
    coldStart: trace,
    startedAt: Date.now(),
    async begin(opts = {}) {
      // A first invocation that failed before its use case ended the trace: log what it reached.
      if (begun) trace.end(log);
      begun = true;
      await ready();
      trace.mark('secrets');
      if (!config.current()) opts.beforeConfig?.();
      const loaded = await config.get();
      trace.mark('config');
      touchLease(loaded, opts.lease);
      // Also when another invocation started the work: the callers that do not run in parallel never ask leaseSettled().
      if (!opts.leaseInParallel) await leasing;
      return loaded;
    },
    beginWarm(opts = {}) {
      // The same steps as begin, each known to be done or not to wait: no async frames on the warm path.
      if (!begun || !isReady) return undefined;
      trace.end(log);
      const loaded = config.cached();
      if (loaded) touchLease(loaded, opts.lease);
      return loaded;
    },
    leaseSettled: () => leasing,
    onShutdown: (hook) => void shutdownHooks.push(hook),
    close() {
      stopReleasing();
      shutdownHooks.length = 0;
      consul.destroy();
    },
  };
}

/**
 * Fails the cold start closed when the agent's certificate does not verify (or it refuses ours):
 * the config store would otherwise take that for "unreachable" and start on defaults. One
 * ACL-free request on the connection the config read then reuses; an agent that does not
 * answer is left to the config store's own cold-start handling.
 */
async function checkTls(consul: ConsulApi): Promise<void> {
  try {
    await consul.request('consul.status.leader', { timeoutMs: TLS_CHECK_TIMEOUT_MS }, { method: 'GET', path: '/status/leader' });
  } catch (err) {
    if (err instanceof ConsulTlsError) throw err;
  }
}
