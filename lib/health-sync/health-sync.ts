/**
 * One health-sync run: under a Consul lock, probe agentless instances over
 * grpc.health.v1 and write their TTL checks (consul-esm's job, with
 * consecutive-result thresholds), then mirror the configured services and
 * their health into Cloud Map through a pure plan and a bounded apply
 * (consul-aws's job, with health push, ownership and zero writes when idle).
 */
import type { ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import { agentServices, serviceCheckId, updateTtlCheck } from '../consul/agent';
import type { ConsulApi } from '../consul/consul-api';
import { serviceHealth, type InstanceHealth } from '../consul/health';
import { kvDelete, kvGetRecursive, kvPut } from '../consul/kv';
import { tryLock } from '../consul/lock';
import { applyPlan, type ApplySummary } from '../cloudmap/apply';
import { isOwnedBy } from '../cloudmap/ownership';
import { deregisterExternal, externalServices, registerExternal } from '../consul/catalog';
import { GRPC_PROBED_FILTER, REGISTRATION_META } from '../consul/registration-meta';
import { planSync } from '../cloudmap/plan';
import { readCloudMapState } from '../cloudmap/read-state';
import { isWriteAction, type ActualService, type SyncAction } from '../cloudmap/types';
import { errorSummary, type Log } from '../log/logger';
import { forEachBounded, mapBounded } from '../util/bounded';
import { desiredServices } from './desired-state';
import { probeGrpcHealth, type ProbeResult } from './grpc-health-probe';
import type { HealthSyncConfig } from './health-sync-config';
import { INITIAL_PROBE_STATE, nextProbeState, parseProbeState, type ProbeState } from './probe-state';
import { EXTERNAL_SOURCE, planReverse, type ReversePlan } from './reverse-plan';

/** K/V layout of the job: its lock and the anti-flap counters. */
export const LOCK_KEY = 'health-sync/lock';
export const PROBE_STATE_PREFIX = 'health-sync/probe-state/';

/** What a run needs. */
export interface HealthSyncDeps {
  consul: ConsulApi;
  config: HealthSyncConfig;
  log: Log;
  cloudMap?: ServiceDiscoveryClient;
  holder: string;
  /** Epoch ms by which the run must be done (the Lambda's time minus a margin); none: unbounded. */
  deadline?: number;
  probe?: (address: string, port: number, service: string, timeoutMs: number) => Promise<ProbeResult>;
}

/** One probed instance in the report. */
export interface ProbeReport {
  service: string;
  id: string;
  ok: boolean;
  output: string;
  status: ProbeState['status'];
  changed: boolean;
}

/** What a run did (or, dry, would do). */
export interface HealthSyncReport {
  dryRun: boolean;
  /** `locked`: another run holds the lock; `config_unavailable`: Consul's K/V could not be read, and a run on defaults would mirror nothing. */
  skipped?: 'locked' | 'config_unavailable';
  /** Why the Cloud Map step did not run although mirroring is on (e.g. no namespace configured). */
  cloudMapSkipped?: string;
  probes: ProbeReport[];
  plan: SyncAction[];
  cloudMap?: ApplySummary;
  /** The reverse direction (Cloud Map → Consul), when configured. */
  reverse?: ReversePlan & { errors: string[] };
  notMirrored: string[];
  /** Set when the run stopped early to finish within its time. */
  cutShort?: string;
  durationMs: number;
}

/** Least time the Cloud Map step is started with: one page of calls with retries. */
const MIRROR_MIN_MS = 15_000;

/** Runs the job once; a run that finds the lock taken skips and says so. */
export async function runHealthSync(deps: HealthSyncDeps, opts: { dryRun: boolean }): Promise<HealthSyncReport> {
  const started = Date.now();
  const cfg = deps.config;
  const report: HealthSyncReport = { dryRun: opts.dryRun, probes: [], plan: [], notMirrored: [], durationMs: 0 };
  // A dry run writes nothing, so it needs no lock and never blocks a real run.
  const lock = opts.dryRun ? undefined : await tryLock(deps.consul, LOCK_KEY, cfg.lockTtlSeconds, deps.holder, deps.log);
  if (!opts.dryRun && !lock) {
    deps.log.info('another health-sync run holds the lock; skipping this one');
    return { ...report, skipped: 'locked', durationMs: Date.now() - started };
  }
  try {
    const names = [...new Set([...cfg.services, ...cfg.probeServices])];
    const health = new Map(await mapBounded(names, 8, async (n) => [n, await serviceHealth(deps.consul, n)] as const));
    const cloudMap = cfg.cloudMapEnabled && cfg.cloudMapNamespaceId ? deps.cloudMap : undefined;
    if (cfg.cloudMapEnabled && !cloudMap) {
      // Said loudly: a run that mirrors nothing looks like a healthy one otherwise.
      report.cloudMapSkipped = cfg.cloudMapNamespaceId
        ? 'no Cloud Map client'
        : 'cloudMapNamespaceId is empty: set it under the config prefix (or cloudMapEnabled=false to probe only)';
      deps.log.warn('health-sync skips the Cloud Map step', { reason: report.cloudMapSkipped });
    }
    // Probing and mirroring are split: the mirror waits only for the probes of the instances it
    // mirrors (probed first), at most mirrorProbeWaitMs, and the other probes (any number of
    // registry-made instances, dead or hung ones included) go on beside it. So no amount of
    // probing can delay or skip the mirror of the real instances.
    const probing = await startProbing(deps, health, opts.dryRun);
    try {
      if (cloudMap) {
        await firstOf(probing.mirroredDone, cfg.mirrorProbeWaitMs);
        await mirror(deps, cloudMap, health, probing.verdicts, report, opts.dryRun);
      }
    } finally {
      // The lock is held until every probe started under it has written its result.
      report.probes = await probing.all;
    }
  } finally {
    await lock?.release();
  }
  report.durationMs = Date.now() - started;
  const writes = report.plan.filter(isWriteAction).length;
  deps.log.info('health-sync run finished', {
    dryRun: opts.dryRun,
    probes: report.probes.length,
    statusChanges: report.probes.filter((p) => p.changed).length,
    plannedCloudMapWrites: writes,
    errors: report.cloudMap?.errors.length ?? 0,
    durationMs: report.durationMs,
  });
  return report;
}

async function mirror(
  deps: HealthSyncDeps,
  cloudMap: ServiceDiscoveryClient,
  health: Map<string, readonly InstanceHealth[]>,
  verdicts: ReadonlyMap<string, ProbeState['status']>,
  report: HealthSyncReport,
  dryRun: boolean,
): Promise<void> {
  const cfg = deps.config;
  const left = deps.deadline === undefined ? Infinity : deps.deadline - Date.now();
  if (left < MIRROR_MIN_MS) {
    // Better to skip the mirror this time than to be killed mid-apply holding the lock.
    report.cutShort = `skipped the Cloud Map step: ${Math.max(0, Math.round(left))} ms left`;
    deps.log.warn('health-sync ran short of time', { reason: report.cutShort });
    return;
  }
  // This run's probe verdicts, where they are in, override what Consul said before the probes.
  const verdict = new Map(verdicts);
  const mirrored = new Map(
    [...health]
      .filter(([n]) => cfg.services.includes(n))
      .map(([n, entries]) => [n, entries.map((e) => ({ ...e, status: verdict.get(e.instance.id) ?? e.status }))]),
  );
  const desired = desiredServices(mirrored);
  report.notMirrored = desired.skipped;
  const actual = await readCloudMapState(cloudMap, cfg.cloudMapNamespaceId, {
    ownerMarker: cfg.ownerMarker,
    alsoRead: cfg.reverseServices,
    log: deps.log,
  });
  report.plan = planSync(desired.services, actual, { namespaceId: cfg.cloudMapNamespaceId, ownerMarker: cfg.ownerMarker });
  report.cloudMap = await applyPlan(cloudMap, report.plan, { concurrency: cfg.applyConcurrency, dryRun, log: deps.log });
  report.cloudMap.calls = mergeCalls(actual.calls, report.cloudMap.calls);
  const foreign = actual.services.filter((s) => !isOwnedBy(s.description, cfg.ownerMarker));
  report.reverse = await reverseSync(deps, foreign, dryRun);
}

/** Probing under way: verdicts so far, when the mirrored instances' probes are done, and the whole run's reports. */
interface Probing {
  verdicts: ReadonlyMap<string, ProbeState['status']>;
  mirroredDone: Promise<void>;
  all: Promise<ProbeReport[]>;
}

async function startProbing(deps: HealthSyncDeps, health: Map<string, readonly InstanceHealth[]>, dryRun: boolean): Promise<Probing> {
  const cfg = deps.config;
  // Instances of the configured services, plus every instance the registry created with a
  // gRPC check, whatever its service: those live on the agent, tagged by meta.
  const configured = [...health]
    .filter(([service]) => cfg.probeServices.includes(service))
    .flatMap(([, entries]) => entries.map((e) => e.instance));
  const registered = await agentServices(deps.consul, GRPC_PROBED_FILTER);
  const stored = await kvGetRecursive(deps.consul, PROBE_STATE_PREFIX);
  const states = new Map(stored.value.map((p) => [p.key.slice(PROBE_STATE_PREFIX.length), parseProbeState(p.value)]));
  const all = [...new Map([...configured, ...registered].map((i) => [i.id, { service: i.service, instance: i }])).values()];
  // The mirrored instances first; then the ones probed longest ago (never probed: first), so a run
  // that cannot probe everything does not leave the same instances out every time.
  const mirrored = all.filter((t) => cfg.services.includes(t.service));
  const others = all
    .filter((t) => !cfg.services.includes(t.service))
    .sort((a, b) => (states.get(a.instance.id)?.probedAt ?? 0) - (states.get(b.instance.id)?.probedAt ?? 0));
  const targets = [...mirrored, ...others];
  const verdicts = new Map<string, ProbeState['status']>();
  let mirroredLeft = mirrored.length;
  let mirroredSettled!: () => void;
  const mirroredDone = new Promise<void>((resolve) => (mirroredSettled = resolve));
  if (mirroredLeft === 0) mirroredSettled();
  const probe = deps.probe ?? probeGrpcHealth;
  const probeOne = async ({ service, instance }: (typeof targets)[number]): Promise<ProbeReport | undefined> => {
    if (deps.deadline !== undefined && Date.now() + cfg.probeTimeoutMs > deps.deadline) return undefined; // no time to probe it
    const result = await probe(instance.address, instance.port, instance.meta[REGISTRATION_META.probeService] ?? '', cfg.probeTimeoutMs);
    const prev = states.get(instance.id) ?? INITIAL_PROBE_STATE;
    const next = { ...nextProbeState(prev, result.ok, cfg), probedAt: Date.now() };
    verdicts.set(instance.id, next.status);
    const changed = next.status !== prev.status;
    if (!dryRun) {
      try {
        // Every run re-asserts the check (its TTL outlives a few missed runs, then it fails safe).
        const note = `${result.output} (${next.status}; ${next.consecutiveFailures} failures / ${next.consecutiveSuccesses} successes in a row)`;
        await updateTtlCheck(deps.consul, serviceCheckId(instance.id), next.status === 'passing' ? 'pass' : 'fail', note);
        await kvPut(deps.consul, `${PROBE_STATE_PREFIX}${instance.id}`, JSON.stringify(next));
      } catch (err) {
        deps.log.warn('could not record a probe result', { probedService: service, id: instance.id, error: errorSummary(err) });
      }
    }
    return { service, id: instance.id, ok: result.ok, output: result.output, status: next.status, changed };
  };
  const run = async (): Promise<ProbeReport[]> => {
    try {
      const reports = await mapBounded(targets, cfg.probeConcurrency, async (t) => {
        try {
          return await probeOne(t);
        } finally {
          if (cfg.services.includes(t.service) && --mirroredLeft === 0) mirroredSettled();
        }
      });
      const done = reports.filter((r): r is ProbeReport => r !== undefined);
      if (done.length < targets.length)
        deps.log.warn('health-sync ran short of time; some instances were not probed', { probed: done.length, targets: targets.length });
      if (!dryRun) {
        // Counters of instances that left Consul are dropped, so nothing keeps probing them.
        const live = new Set(targets.map((t) => t.instance.id));
        for (const id of states.keys()) if (!live.has(id)) await kvDelete(deps.consul, `${PROBE_STATE_PREFIX}${id}`).catch(() => undefined);
      }
      return done;
    } finally {
      mirroredSettled(); // whatever happened, the mirror does not wait on probes that will not come
    }
  };
  return { verdicts, mirroredDone, all: run() };
}

/** Resolves when `p` settles or `ms` passes, whichever comes first (never rejects). */
async function firstOf(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

async function reverseSync(
  deps: HealthSyncDeps,
  foreign: ActualService[],
  dryRun: boolean,
): Promise<(ReversePlan & { errors: string[] }) | undefined> {
  const cfg = deps.config;
  // Read the node even when the reverse sync is off: imports left from when it was on are removed.
  const existing = await externalServices(deps.consul, cfg.reverseNode);
  if (!cfg.reverseServices.length && !existing.length) return undefined;
  const plan = planReverse(foreign, cfg.reverseServices, existing);
  const errors: string[] = [];
  if (dryRun) return { ...plan, errors };
  const nodeMeta = { 'external-node': 'true', 'external-probe': 'false', [EXTERNAL_SOURCE.key]: EXTERNAL_SOURCE.value };
  await forEachBounded(plan.register, cfg.applyConcurrency, (svc) =>
    registerExternal(deps.consul, cfg.reverseNode, nodeMeta, svc).catch(
      (err: unknown) => void errors.push(`${svc.id}: ${errorSummary(err).message}`),
    ),
  );
  await forEachBounded(plan.deregister, cfg.applyConcurrency, (id) =>
    deregisterExternal(deps.consul, cfg.reverseNode, id).catch((err: unknown) => void errors.push(`${id}: ${errorSummary(err).message}`)),
  );
  return { ...plan, errors };
}

function mergeCalls(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}
