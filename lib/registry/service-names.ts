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

// \p{C}: controls, format characters (zero-width U+200B–U+200D, U+2060, U+FEFF; bidi U+200E/F,
// U+202A–U+202E, U+2066–U+2069), surrogates, private use, unassigned. Separators other than the
// plain space look like one but compare differently. A name (ASCII by SERVICE_NAME) has none of these.
const HIDDEN = /[\p{C}\p{Zl}\p{Zp}]|(?! )\p{Zs}/u;

/**
 * Why `text` (a tag) could show a reader something other than what it holds; undefined when it cannot.
 * The rule names follow implicitly: no invisible, reordering or look-alike-space characters.
 */
export function hiddenCharacterProblem(text: string): string | undefined {
  const m = HIDDEN.exec(text);
  if (!m) return undefined;
  const cp = m[0].codePointAt(0) ?? 0;
  const at = [...text.slice(0, m.index)].length;
  return `must not contain control, zero-width, bidi or other invisible characters (U+${cp.toString(16).toUpperCase().padStart(4, '0')} at character ${at + 1})`;
}
