/**
 * The instance registry use case as the `instances` function calls it, one entry per route. Each starts
 * the invocation on the registry runtime (token and signer once, config, lease renewal), validates what
 * needs the config, and runs the operation (instance-registry.ts) with what the runtime holds.
 */
import { parseRegistration } from './registration-request';
import { deleteInstance, heartbeat, listInstances, registerInstance, type LeaseGrant, type RegistryDeps } from './instance-registry';
import { listQuery, policyFromConfig } from './registry-policy';
import type { RegistryRuntime } from './registry-runtime';

/** A registration as it came in: the JSON body, who sent it (the API key's id) and its Idempotency-Key, if any. */
export interface RegisterRequest {
  body: unknown;
  caller: string;
  idempotencyKey?: string;
}

/**
 * The start of every registry invocation; each Consul call of the operation then gets `timeoutMs`
 * (a budget from the Lambda's remaining time lets a write wait out a leader election).
 */
async function begin(rt: RegistryRuntime, timeoutMs: number | undefined): Promise<RegistryDeps> {
  const loaded = await rt.begin();
  const signer = await rt.signer();
  return { consul: rt.consul, signer, config: loaded.values, timeoutMs };
}

/** Registers the workload `req.body` describes, within its caller's quotas; RegistryError names what is wrong. */
export async function register(rt: RegistryRuntime, req: RegisterRequest, timeoutMs?: number): Promise<LeaseGrant> {
  const deps = await begin(rt, timeoutMs);
  const reg = parseRegistration(req.body, policyFromConfig(deps.config));
  return registerInstance(
    deps,
    reg,
    req.idempotencyKey === undefined ? { caller: req.caller } : { caller: req.caller, key: req.idempotencyKey },
  );
}

/** Renews the lease of instance `id` for the holder of its token. */
export async function renew(rt: RegistryRuntime, id: string, token: string | undefined, timeoutMs?: number): Promise<LeaseGrant> {
  return heartbeat(await begin(rt, timeoutMs), id, token);
}

/** Deregisters instance `id` for the holder of its token. */
export async function remove(rt: RegistryRuntime, id: string, token: string | undefined, timeoutMs?: number): Promise<void> {
  await deleteInstance(await begin(rt, timeoutMs), id, token);
}

/** The instances of `service` (the `service` query parameter, checked against the config) with their health. */
export async function list(rt: RegistryRuntime, service: string | undefined, timeoutMs?: number): ReturnType<typeof listInstances> {
  const deps = await begin(rt, timeoutMs);
  return listInstances(deps, listQuery(service, deps.config));
}
