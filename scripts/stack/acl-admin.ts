/**
 * Creating ACL policies and tokens with a management token (local stack, tests,
 * and the setup step of a deployment), through the same ConsulApi as every
 * other call: node-consul has no ACL policy or token methods (only the legacy
 * ACL API), so these use its generic request path.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../../lib/errors/app-error';
import type { ConsulApi } from '../../lib/consul/consul-api';
import { ConsulRequestError } from '../../lib/consul/errors';

/** A policy template that cannot be rendered: a setup mistake, never a request's. */
export class PolicyTemplateError extends AppError<'invalid_template'> {
  override name = 'PolicyTemplateError';
  readonly domain = 'consul';
  constructor(message: string) {
    super('invalid_template', message);
  }
}

/** Values substituted into the `{{name}}` placeholders of acl/policies/*.hcl. */
export type PolicyParams = Record<string, string>;

/** Renders a policy template; an unknown placeholder is an error, not an empty rule. */
export function renderPolicy(template: string, params: PolicyParams): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new PolicyTemplateError(`policy placeholder {{${name}}} has no value`);
    if (!/^[A-Za-z0-9_./-]*$/.test(value)) throw new PolicyTemplateError(`policy value for ${name} has characters not allowed in a rule`);
    return value;
  });
}

/** Reads acl/policies/<name>.hcl from the repository. */
export function policyTemplate(name: string, dir = join(__dirname, '..', '..', 'acl', 'policies')): string {
  return readFileSync(join(dir, `${name}.hcl`), 'utf8');
}

/** The IDs of the existing policies by name: one list call, so Consul logs no "ACL not found" per lookup. */
export async function policyIds(admin: ConsulApi): Promise<Map<string, string>> {
  const list = (await admin.request('consul.acl.policy.list', { timeoutMs: 5_000 }, { method: 'GET', path: '/acl/policies' })) as
    { ID?: string; Name?: string }[] | undefined;
  return new Map((list ?? []).flatMap((p) => (p.ID && p.Name ? [[p.Name, p.ID] as const] : [])));
}

/** Creates or updates the policy `name` with `rules` (`existingId`: its ID, if it exists); returns its ID. */
export async function upsertPolicy(
  admin: ConsulApi,
  name: string,
  rules: string,
  description: string,
  existingId?: string,
): Promise<string> {
  const body = { Name: name, Description: description, Rules: rules };
  const path = existingId ? `/acl/policy/${encodeURIComponent(existingId)}` : '/acl/policy';
  const saved = (await admin.request('consul.acl.policy.write', { timeoutMs: 5_000 }, { method: 'PUT', path, body })) as
    { ID?: string } | undefined;
  if (!saved?.ID) throw new ConsulRequestError('consul.acl.policy.write', 'answer carried no policy id');
  return saved.ID;
}

/** Creates a token linked to the given policies; returns its SecretID (handle with care). */
export async function createToken(admin: ConsulApi, policyNames: string[], description: string): Promise<string> {
  const body = { Description: description, Policies: policyNames.map((Name) => ({ Name })) };
  const token = (await admin.request('consul.acl.token.create', { timeoutMs: 5_000 }, { method: 'PUT', path: '/acl/token', body })) as
    { SecretID?: string } | undefined;
  if (!token?.SecretID) throw new ConsulRequestError('consul.acl.token.create', 'answer carried no token');
  return token.SecretID;
}

/** A policy to provision: a template name, or a named instance of a template with its own params. */
export type PolicyRef = string | { name: string; template: string; params: PolicyParams };

/** Creates or updates the given policies from their templates and a fresh token linked to all of them. */
export async function provisionToken(admin: ConsulApi, policies: PolicyRef | PolicyRef[], params: PolicyParams): Promise<string> {
  const refs = (Array.isArray(policies) ? policies : [policies]).map((p) =>
    typeof p === 'string' ? { name: p, template: p, params } : { ...p, params: { ...params, ...p.params } },
  );
  const existing = await policyIds(admin);
  for (const p of refs)
    await upsertPolicy(
      admin,
      p.name,
      renderPolicy(policyTemplate(p.template), p.params),
      `consul-grpc-lambda: ${p.name}`,
      existing.get(p.name),
    );
  return createToken(
    admin,
    refs.map((p) => p.name),
    `consul-grpc-lambda: ${refs.map((p) => p.name).join(' + ')}`,
  );
}

/** A base policy plus one instance of `template` per service prefix. */
function withPrefixPolicies(base: string, template: string, servicePrefixes: readonly string[]): PolicyRef[] {
  return [
    base,
    ...servicePrefixes.map((servicePrefix) => ({
      name: `${template}-${servicePrefix.replace(/-+$/, '') || 'root'}`,
      template,
      params: { servicePrefix },
    })),
  ];
}

/**
 * The policies of the instance registry: its base policy, one per allowed service prefix and one per
 * exact service (`allowedServices`). Every prefix must end with "-" (a word boundary): `service_prefix
 * "greeter"` would let the registry's token register and deregister `greeter` itself and every
 * `greeter…` lease, which it does not own.
 */
export function registryPolicies(servicePrefixes: readonly string[], services: readonly string[] = []): PolicyRef[] {
  checkPrefixes('registry', servicePrefixes);
  return [
    ...withPrefixPolicies('instance-registry', 'instance-registry-prefix', servicePrefixes),
    ...exactServicePolicies('instance-registry-service', services),
  ];
}

/** Services that take traffic, which a probe grant must not reach unless an operator names them. */
export interface RoutedServices {
  /** The gateways' `greeterService` values (default `greeter`). */
  services?: readonly string[];
  /** Routed services the operator explicitly lets the job probe (and so write). */
  allowProbing?: readonly string[];
}

/**
 * The policies of the health-sync job: its base policy, one per probed service prefix (ending in "-", as
 * the registry's) and one per exact probed service. A probe grant is service write, which can also
 * register an instance at any address: one that reaches a routed service would let a stolen health-sync
 * token send real traffic anywhere, so a prefix or name covering one is refused unless `allowProbing` names it.
 */
export function healthSyncPolicies(
  probedPrefixes: readonly string[],
  probedServices: readonly string[] = [],
  routed: RoutedServices = {},
): PolicyRef[] {
  checkPrefixes('health-sync probe', probedPrefixes);
  const allowed = new Set(routed.allowProbing ?? []);
  for (const service of (routed.services ?? ['greeter']).filter((s) => !allowed.has(s))) {
    const prefix = probedPrefixes.find((p) => service.startsWith(p));
    if (prefix !== undefined)
      throw new PolicyTemplateError(
        `health-sync probe service prefix "${prefix}" covers the routed service "${service}"; name it in allowProbing to probe it on purpose`,
      );
    if (probedServices.includes(service))
      throw new PolicyTemplateError(
        `health-sync would probe the routed service "${service}" (write on it); name it in allowProbing to probe it on purpose`,
      );
  }
  return [
    ...withPrefixPolicies('health-sync', 'health-sync-probe', probedPrefixes),
    ...exactServicePolicies('health-sync-probe-service', probedServices),
  ];
}

function checkPrefixes(what: string, prefixes: readonly string[]): void {
  const bad = prefixes.find((p) => !/^[a-z0-9][a-z0-9-]*-$/.test(p));
  if (bad !== undefined)
    throw new PolicyTemplateError(`${what} service prefix ${JSON.stringify(bad)} must end with "-"; name a single service exactly instead`);
}

function exactServicePolicies(template: string, services: readonly string[]): PolicyRef[] {
  return services.map((service) => ({ name: `${template}-${service}`, template, params: { service } }));
}

/** Extra policies for the health-sync reverse direction: node write on the synthetic node, service write per imported service. */
export function reverseSyncPolicies(reverseNode: string, services: readonly string[]): PolicyRef[] {
  return services.map((service) => ({
    name: `health-sync-reverse-${service}`,
    template: 'health-sync-reverse',
    params: { reverseNode, service },
  }));
}
