/**
 * Which service names the registration API may register (and list). Pure.
 *
 * The rule, in order:
 * 1. A name listed exactly in `allowedServices` is allowed: the one way an operator
 *    opens a protected name, one name at a time.
 * 2. Otherwise the name must start with an allowed prefix, and a prefix counts only
 *    if it ends with `-` (a word boundary): `greeter` as a prefix would admit
 *    `greeter` itself, `greeter-gateway-lambda` and `greeterx`.
 * 3. Even under a prefix, a name ending in `-lambda` (an execution-environment lease:
 *    greeter-gateway-lambda, instance-registry-lambda, health-sync-lambda) and a
 *    name in `protectedServices` (services that take traffic: the gateway's
 *    greeterService, default `greeter`) are refused.
 *
 * So an API-key holder can never add an instance to a service that callers are
 * routed to, nor fake a lease, unless an operator named that exact service.
 */

/** What the deployment lets through; the registry config has exactly these fields. */
export interface ServiceNameRule {
  allowedServicePrefixes: readonly string[];
  allowedServices?: readonly string[];
  protectedServices?: readonly string[];
}

/** Suffix of every execution-environment lease service (`<function service>-lambda`). */
export const LEASE_SERVICE_SUFFIX = '-lambda';

/** Protected when a rule names none: the gateway's default greeterService. */
export const DEFAULT_PROTECTED_SERVICES: readonly string[] = ['greeter'];

/** Why `service` may not be registered or listed through the API; undefined when it may. */
export function serviceNameProblem(service: string, rule: ServiceNameRule): string | undefined {
  if (rule.allowedServices?.includes(service)) return undefined;
  // A prefix without its boundary never matches, whoever built the rule.
  const prefixes = rule.allowedServicePrefixes.filter((p) => p.endsWith('-'));
  if (!prefixes.some((p) => service.startsWith(p))) {
    const exact = rule.allowedServices?.length ? ` or be one of: ${rule.allowedServices.join(', ')}` : '';
    return `service must start with one of: ${prefixes.join(', ') || '(none configured)'}${exact}`;
  }
  if (service.endsWith(LEASE_SERVICE_SUFFIX)) {
    return `service names ending in ${LEASE_SERVICE_SUFFIX} are reserved for execution-environment leases; an operator may open one only by listing it in allowedServices`;
  }
  if ((rule.protectedServices ?? DEFAULT_PROTECTED_SERVICES).includes(service)) {
    return `service ${service} is protected (it takes traffic); an operator may open it only by listing it in allowedServices`;
  }
  return undefined;
}
