/**
 * Creating ACL policies and tokens with a management token (local stack, tests,
 * and the setup step of a deployment). Written on fetch because the `consul`
 * npm client has no ACL policy or token endpoints (only the legacy ACL API).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConsulAddress } from './consul-address';
import { ConsulRequestError } from './errors';

/** Values substituted into the `{{name}}` placeholders of acl/policies/*.hcl. */
export type PolicyParams = Record<string, string>;

/** Renders a policy template; an unknown placeholder is an error, not an empty rule. */
export function renderPolicy(template: string, params: PolicyParams): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`policy placeholder {{${name}}} has no value`);
    if (!/^[A-Za-z0-9_./-]*$/.test(value)) throw new Error(`policy value for ${name} has characters not allowed in a rule`);
    return value;
  });
}

/** Reads acl/policies/<name>.hcl from the repository. */
export function policyTemplate(name: string, dir = join(__dirname, '..', '..', 'acl', 'policies')): string {
  return readFileSync(join(dir, `${name}.hcl`), 'utf8');
}

async function aclRequest(address: string, managementToken: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const { host, port, secure } = parseConsulAddress(address);
  const url = `${secure ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}/v1${path}`;
  const res = await fetch(url, {
    method,
    headers: { 'x-consul-token': managementToken, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  const text = await res.text();
  if (!res.ok) throw new ConsulRequestError(`consul.acl ${method} ${path.split('/').slice(0, 3).join('/')}`, text.slice(0, 200), res.status);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

/** Creates or updates the policy `name` with `rules`; returns its ID. */
export async function upsertPolicy(address: string, managementToken: string, name: string, rules: string, description: string): Promise<string> {
  let existing: { ID?: string } | undefined;
  try {
    existing = (await aclRequest(address, managementToken, 'GET', `/acl/policy/name/${encodeURIComponent(name)}`)) as { ID?: string };
  } catch (err) {
    if (!(err instanceof ConsulRequestError) || (err.statusCode !== 404 && err.statusCode !== 403)) throw err;
  }
  const body = { Name: name, Description: description, Rules: rules };
  const saved = existing?.ID
    ? await aclRequest(address, managementToken, 'PUT', `/acl/policy/${existing.ID}`, body)
    : await aclRequest(address, managementToken, 'PUT', '/acl/policy', body);
  return (saved as { ID: string }).ID;
}

/** Creates a token linked to the given policies; returns its SecretID (handle with care). */
export async function createToken(address: string, managementToken: string, policyNames: string[], description: string): Promise<string> {
  const token = (await aclRequest(address, managementToken, 'PUT', '/acl/token', {
    Description: description,
    Policies: policyNames.map((Name) => ({ Name })),
  })) as { SecretID: string };
  return token.SecretID;
}

/** A policy to provision: a template name, or a named instance of a template with its own params. */
export type PolicyRef = string | { name: string; template: string; params: PolicyParams };

/** Creates or updates the given policies from their templates and a fresh token linked to all of them. */
export async function provisionToken(address: string, managementToken: string, policies: PolicyRef | PolicyRef[], params: PolicyParams): Promise<string> {
  const refs = (Array.isArray(policies) ? policies : [policies]).map((p) => (typeof p === 'string' ? { name: p, template: p, params } : { ...p, params: { ...params, ...p.params } }));
  for (const p of refs) await upsertPolicy(address, managementToken, p.name, renderPolicy(policyTemplate(p.template), p.params), `consul-grpc-lambda: ${p.name}`);
  return createToken(address, managementToken, refs.map((p) => p.name), `consul-grpc-lambda: ${refs.map((p) => p.name).join(' + ')}`);
}

/** A base policy plus one instance of `template` per service prefix. */
function withPrefixPolicies(base: string, template: string, servicePrefixes: readonly string[]): PolicyRef[] {
  return [base, ...servicePrefixes.map((servicePrefix) => ({ name: `${template}-${servicePrefix.replace(/-+$/, '') || 'root'}`, template, params: { servicePrefix } }))];
}

/** The policies of the instance registry: its base policy plus one per allowed service prefix. */
export function registryPolicies(servicePrefixes: readonly string[]): PolicyRef[] {
  return withPrefixPolicies('instance-registry', 'instance-registry-prefix', servicePrefixes);
}

/** The policies of the health-sync job: its base policy plus one per probed service prefix. */
export function healthSyncPolicies(probedPrefixes: readonly string[]): PolicyRef[] {
  return withPrefixPolicies('health-sync', 'health-sync-probe', probedPrefixes);
}

/** Extra policies for the health-sync reverse direction: node write on the synthetic node, service write per imported service. */
export function reverseSyncPolicies(reverseNode: string, services: readonly string[]): PolicyRef[] {
  return services.map((service) => ({ name: `health-sync-reverse-${service}`, template: 'health-sync-reverse', params: { reverseNode, service } }));
}
