/**
 * Diffs what Consul wants against what Cloud Map has and returns the writes
 * that close the gap; pure, so it is cheap to test and a dry run is free.
 *
 * Rules: only services carrying our marker are ever written to; a same-named
 * foreign service is reported and left alone; instances of our services that
 * Consul no longer has are deregistered (the service stays, so ids that other
 * systems hold stay valid); health is pushed only when it differs. Planning
 * again after a successful apply yields no writes. On AWS a custom health
 * change takes effect about 30 s after the push, so a run within that window
 * re-pushes the same status (harmless, but a write).
 */
import { INIT_HEALTH_KEY, instanceAttributes, sameAttributes } from './attributes';
import { isOwnedBy, ownerDescription } from './ownership';
import type { ActualInstance, ActualService, CustomHealth, DesiredInstance, DesiredService, SyncAction } from './types';

/** Where to create services and how to recognise ours. */
export interface PlanOptions {
  namespaceId: string;
  ownerMarker: string;
}

/** The actions that make Cloud Map mirror `desired`; deterministic order, services first. */
export function planSync(
  desired: readonly DesiredService[],
  actual: { services: readonly ActualService[] },
  opts: PlanOptions,
): SyncAction[] {
  const byName = new Map<string, ActualService[]>();
  for (const s of actual.services) byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
  const wanted = uniqueBy(desired, (s) => s.name);
  const creates: SyncAction[] = [];
  const rest: SyncAction[] = [];

  for (const want of wanted) {
    const same = byName.get(want.name) ?? [];
    const ours = ownedOf(same, opts.ownerMarker);
    if (ours) {
      rest.push(...diffInstances(ours, want.instances));
      continue;
    }
    const foreign = same[0];
    if (foreign) {
      rest.push({ kind: 'skipForeignService', serviceName: want.name, serviceId: foreign.id, description: foreign.description });
      continue;
    }
    creates.push({
      kind: 'createService',
      serviceName: want.name,
      namespaceId: opts.namespaceId,
      description: ownerDescription(opts.ownerMarker),
    });
    // A service we create always has a custom health config, and starts empty.
    rest.push(...diffInstances({ name: want.name, customHealth: true, instances: [] }, want.instances));
  }

  const wantedNames = new Set(wanted.map((s) => s.name));
  for (const [name, same] of sortedEntries(byName)) {
    if (wantedNames.has(name)) continue;
    const ours = ownedOf(same, opts.ownerMarker);
    if (ours) rest.push(...diffInstances(ours, []));
  }
  return [...creates, ...rest];
}

/** Our service among same-named ones; several only happen on moto, which lacks the uniqueness check. */
function ownedOf(services: readonly ActualService[], marker: string): ActualService | undefined {
  return services.filter((s) => isOwnedBy(s.description, marker)).sort((a, b) => compare(a.id, b.id))[0];
}

type ServiceView = { id?: string; name: string; customHealth: boolean; instances?: readonly ActualInstance[] };

function diffInstances(svc: ServiceView, desired: readonly DesiredInstance[]): SyncAction[] {
  const actual = new Map((svc.instances ?? []).map((i) => [i.id, i]));
  const wanted = uniqueBy(desired, (i) => i.id);
  const wantedIds = new Set(wanted.map((i) => i.id));
  const out: SyncAction[] = [];

  for (const id of [...actual.keys()].sort(compare)) {
    if (!wantedIds.has(id) && svc.id !== undefined)
      out.push({ kind: 'deregisterInstance', serviceName: svc.name, serviceId: svc.id, instanceId: id });
  }
  for (const inst of wanted) {
    const target: CustomHealth = inst.healthy ? 'HEALTHY' : 'UNHEALTHY';
    const have = actual.get(inst.id);
    const { attributes, dropped } = instanceAttributes(inst);
    const base = { serviceName: svc.name, serviceId: svc.id, instanceId: inst.id };
    const health = { ...base, kind: 'updateHealth' as const, status: target, previous: have?.health };
    if (!have || !sameAttributes(attributes, have.attributes)) {
      // AWS starts a custom-health instance HEALTHY unless told otherwise at registration.
      const withInit = svc.customHealth ? { ...attributes, [INIT_HEALTH_KEY]: target } : attributes;
      out.push({ ...base, kind: 'registerInstance', attributes: withInit, reason: have ? 'changed' : 'new', droppedAttributes: dropped });
      // Push anyway after registering: moto ignores AWS_INIT_HEALTH_STATUS, and whether AWS
      // keeps or resets the status of a re-registered instance is not documented.
      if (svc.customHealth && (target === 'UNHEALTHY' || (have !== undefined && have.health !== target))) out.push(health);
      continue;
    }
    // Services without a custom health config cannot take health pushes (CustomHealthNotFound).
    if (svc.customHealth && have.health !== target) out.push(health);
  }
  return out;
}

function uniqueBy<T>(items: readonly T[], key: (t: T) => string): T[] {
  // First occurrence wins, then sorted, so the plan is the same whatever the input order.
  const seen = new Map<string, T>();
  for (const item of items) if (!seen.has(key(item))) seen.set(key(item), item);
  return [...seen.entries()].sort(([a], [b]) => compare(a, b)).map(([, v]) => v);
}

function sortedEntries<V>(m: Map<string, V>): [string, V][] {
  return [...m.entries()].sort(([a], [b]) => compare(a, b));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
