/**
 * Registering short-lived workloads that run no Consul agent: each gets a
 * server-chosen id, a TTL check on the registry's agent and an instance token
 * (the API's `leaseToken`) that only its holder can use to renew or delete it.
 */
import { agentService, deregisterService, registerTtlService, serviceCheckId, updateTtlCheck } from '../consul/agent';
import type { ConsulApi } from '../consul/consul-api';
import { serviceHealth } from '../consul/health';
import { REGISTRATION_META as META } from '../consul/registration-meta';
import { RegistryError } from './errors';
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  IDEMPOTENCY_KEY_FORMAT,
  IDEMPOTENCY_PREFIX,
  idempotencyKvKey,
  releaseIdempotencyKey,
  releaseOwnClaim,
  requestHash,
  type IdempotencyRecord,
} from './idempotency';
import { OWNER_META, ownerDigest, releaseQuota, reserveQuota } from './quota';
import type { InstanceTokenSigner } from './instance-token';
import type { RegistryConfig } from './registry-config';
import { newInstanceId, type Registration } from './registration-request';
import { serviceNameProblem } from './service-names';

/** What the caller gets back from a registration or heartbeat. */
export interface LeaseGrant {
  id: string;
  leaseToken?: string;
  expiresAt: string;
}

/** Dependencies of the registry operations. */
export interface RegistryDeps {
  consul: ConsulApi;
  signer: InstanceTokenSigner;
  config: RegistryConfig;
  now?: () => number;
  /**
   * Budget of each Consul call. During a leader election Consul holds writes (and
   * consistent reads) until a leader is elected: a budget from the Lambda's
   * remaining time lets them go through instead of failing after the default 2 s.
   */
  timeoutMs?: number;
}

/** Who sent a registration (the API key id: it scopes quotas and Idempotency-Keys), and its Idempotency-Key if any. */
export interface IdempotencyScope {
  key?: string;
  caller: string;
}

// A registration, heartbeat or delete that meets an election waits for the new leader.
const budget = (deps: RegistryDeps) => ({
  retryServerErrors: true,
  ...(deps.timeoutMs === undefined ? {} : { timeoutMs: deps.timeoutMs }),
});

// How long a request may wait on others (a pending claim, a contended quota record): one call's budget.
const waitBudgetMs = (deps: RegistryDeps) => deps.timeoutMs ?? 8_000;

/**
 * Registers `reg` for `scope.caller` within its quotas; with an Idempotency-Key, concurrent and
 * later requests of the same caller get the first instance back (one instance per key).
 */
export async function registerInstance(deps: RegistryDeps, reg: Registration, scope?: IdempotencyScope): Promise<LeaseGrant> {
  // Checked again here, so no caller of the use case can reach a routed service or a lease.
  const refused = serviceNameProblem(reg.service, deps.config);
  if (refused) throw new RegistryError('invalid_request', refused);
  const clock = deps.now ?? Date.now;
  const now = clock();
  const cfg = deps.config;
  const grpc = reg.check.type === 'grpc';
  const ttlSeconds = grpc ? cfg.probeTtlSeconds : reg.ttlSeconds;
  const id = newInstanceId(reg.service);
  const expiresAt = now + ttlSeconds * 1000;
  const caller = scope?.caller || 'anonymous';
  const pendingMs = cfg.registrationPendingSeconds * 1000;
  const calls = budget(deps);
  let claim: { kvKey: string; record: IdempotencyRecord } | undefined;
  if (scope?.key !== undefined) {
    if (!IDEMPOTENCY_KEY_FORMAT.test(scope.key))
      throw new RegistryError('invalid_request', 'Idempotency-Key must be 16–128 characters of letters, digits and _ . : -');
    const hash = requestHash(reg);
    const kvKey = idempotencyKvKey(deps.signer.sign(caller, scope.key));
    const record: IdempotencyRecord = {
      id,
      service: reg.service,
      requestHash: hash,
      expiresAt: now + cfg.idempotencyTtlSeconds * 1000,
      createdAt: now,
      state: 'pending',
      pendingUntil: now + pendingMs,
    };
    let existingTtl: number | undefined;
    const stillExists = async (r: IdempotencyRecord) => {
      // An instance Consul already removed is not worth returning: register a new one.
      const svc = await agentService(deps.consul, r.id, calls);
      existingTtl = svc ? Number(svc.meta[META.ttl] ?? ttlSeconds) : undefined;
      return svc !== undefined;
    };
    const result = await claimIdempotencyKey(deps.consul, kvKey, record, {
      stillExists,
      now: clock,
      waitMs: waitBudgetMs(deps),
      call: calls,
    });
    if (!result.claimed) {
      if (result.existing.requestHash !== hash)
        throw new RegistryError('idempotency_key_reused', 'this Idempotency-Key was used for a different request');
      // The same answer as the first request's: its id and its token (an HMAC of id and service).
      return {
        id: result.existing.id,
        leaseToken: deps.signer.sign(result.existing.id, result.existing.service),
        expiresAt: new Date(clock() + (existingTtl ?? ttlSeconds) * 1000).toISOString(),
      };
    }
    claim = { kvKey, record };
  }
  const owner = ownerDigest(deps.signer.sign('api-key-owner', caller));
  try {
    await reserveQuota(deps.consul, {
      owner,
      id,
      service: reg.service,
      limits: { total: cfg.maxInstancesPerApiKey, perService: cfg.maxInstancesPerServicePerApiKey },
      reservationMs: pendingMs,
      budgetMs: waitBudgetMs(deps),
      now: clock,
      call: calls,
    });
    await registerTtlService(
      deps.consul,
      {
        id,
        name: reg.service,
        address: reg.address,
        port: reg.port,
        tags: reg.tags,
        meta: {
          ...reg.meta,
          [META.registeredBy]: 'instance-registry',
          [META.check]: reg.check.type,
          [META.ttl]: String(ttlSeconds),
          [OWNER_META]: owner,
          ...(grpc ? { [META.probeService]: reg.check.service ?? '' } : {}),
          ...(claim ? { [META.idempotency]: claim.kvKey.slice(-64) } : {}),
        },
        ttl: `${ttlSeconds}s`,
        deregisterCriticalServiceAfter: `${cfg.deregisterAfterSeconds}s`,
        // A gRPC-checked instance waits for the health-sync probe; a TTL one is alive now.
        initialStatus: grpc ? 'critical' : 'passing',
        notes: grpc ? 'health set by the health-sync gRPC probe' : 'renewed by PUT /instances/{id}/heartbeat',
      },
      calls,
    );
  } catch (err) {
    if (claim) await releaseOwnClaim(deps.consul, claim.kvKey, id, calls).catch(() => undefined);
    throw err;
  }
  if (claim && !(await completeIdempotencyKey(deps.consul, claim.kvKey, claim.record, calls))) {
    // Our claim outlived registrationPendingSeconds and another request took the key over: two instances for one key must not stay.
    await deregisterService(deps.consul, id, calls).catch(() => undefined);
    throw new RegistryError(
      'idempotency_conflict',
      'this registration took too long and another request with the same Idempotency-Key took over; retry',
    );
  }
  return { id, leaseToken: deps.signer.sign(id, reg.service), expiresAt: new Date(expiresAt).toISOString() };
}

async function authorize(deps: RegistryDeps, id: string, token: string | undefined) {
  const svc = await agentService(deps.consul, id, budget(deps));
  if (!svc || svc.meta[META.registeredBy] !== 'instance-registry') throw new RegistryError('not_found', 'no instance with this id');
  if (!deps.signer.verify(token, id, svc.service)) throw new RegistryError('forbidden', 'missing or wrong lease token');
  return svc;
}

/** Renews the lease of `id` for the holder of its token. */
export async function heartbeat(deps: RegistryDeps, id: string, token: string | undefined): Promise<LeaseGrant> {
  const svc = await authorize(deps, id, token);
  if (svc.meta[META.check] === 'grpc')
    throw new RegistryError('health_is_probed', 'this instance is health-checked over gRPC; heartbeats do not apply');
  await updateTtlCheck(deps.consul, serviceCheckId(id), 'pass', 'heartbeat', budget(deps));
  const ttl = Number(svc.meta[META.ttl] ?? deps.config.ttlDefaultSeconds);
  return { id, expiresAt: new Date((deps.now?.() ?? Date.now()) + ttl * 1000).toISOString() };
}

/** Deregisters `id` for the holder of its token. */
export async function deleteInstance(deps: RegistryDeps, id: string, token: string | undefined): Promise<void> {
  const svc = await authorize(deps, id, token);
  await deregisterService(deps.consul, id, budget(deps));
  const idem = svc.meta[META.idempotency];
  if (idem) await releaseIdempotencyKey(deps.consul, `${IDEMPOTENCY_PREFIX}${idem}`, budget(deps)).catch(() => undefined);
  const owner = svc.meta[OWNER_META];
  if (owner && /^[0-9a-f]{32}$/.test(owner)) await releaseQuota(deps.consul, owner, id, budget(deps)).catch(() => undefined);
}

/** Instances of `service` with their health, as the API lists them. */
export async function listInstances(deps: RegistryDeps, service: string) {
  const entries = await serviceHealth(deps.consul, service, budget(deps));
  return entries.map(({ instance, status }) => ({
    id: instance.id,
    service: instance.service,
    address: instance.address,
    port: instance.port,
    tags: instance.tags,
    // The server's own lease-* meta (check kind, TTL, idempotency digest) is not for other callers.
    meta: Object.fromEntries(Object.entries(instance.meta).filter(([k]) => !k.startsWith('lease-'))),
    status,
  }));
}
