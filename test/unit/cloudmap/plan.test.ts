import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { INIT_HEALTH_KEY, instanceAttributes } from '../../../lib/cloudmap/attributes';
import { ownerDescription } from '../../../lib/cloudmap/ownership';
import { planSync } from '../../../lib/cloudmap/plan';
import {
  isWriteAction,
  type ActualInstance,
  type CustomHealth,
  type ActualService,
  type DesiredInstance,
  type DesiredService,
  type SyncAction,
} from '../../../lib/cloudmap/types';

const opts = { namespaceId: 'ns-1', ownerMarker: 'health-sync/prod' };
const ours = ownerDescription(opts.ownerMarker);
const inst = (id: string, o: Partial<DesiredInstance> = {}): DesiredInstance => ({
  id,
  ipv4: '10.0.0.1',
  port: 50051,
  tags: ['v1'],
  meta: { zone: 'a' },
  healthy: true,
  ...o,
});
const svc = (name: string, instances: DesiredInstance[]): DesiredService => ({ name, instances });
/** What Cloud Map holds after a perfect sync of `d`. */
const mirrored = (d: DesiredInstance, health: ActualInstance['health'] = d.healthy ? 'HEALTHY' : 'UNHEALTHY'): ActualInstance => ({
  id: d.id,
  attributes: { ...instanceAttributes(d).attributes, [INIT_HEALTH_KEY]: 'HEALTHY' },
  health,
});
const actualSvc = (name: string, instances: ActualInstance[], o: Partial<ActualService> = {}): ActualService => ({
  id: `srv-${name}`,
  name,
  description: ours,
  customHealth: true,
  instances,
  ...o,
});
const brief = (actions: SyncAction[]) =>
  actions.map((a) =>
    a.kind === 'createService'
      ? `create ${a.serviceName}`
      : a.kind === 'updateHealth'
        ? `health ${a.serviceName}/${a.instanceId} ${a.status}`
        : `${a.kind} ${a.serviceName}${'instanceId' in a ? `/${a.instanceId}` : ''}`,
  );

describe('planSync', () => {
  it('creates a missing service with the ownership marker, then registers its instances', () => {
    const actions = planSync([svc('greeter', [inst('b'), inst('a')])], { services: [] }, opts);
    assert.deepEqual(brief(actions), ['create greeter', 'registerInstance greeter/a', 'registerInstance greeter/b']);
    const create = actions[0];
    assert.ok(create?.kind === 'createService');
    assert.equal(create.description, 'managed-by: health-sync/prod');
    assert.equal(create.namespaceId, 'ns-1');
    const reg = actions[1];
    assert.ok(reg?.kind === 'registerInstance');
    assert.equal(reg.serviceId, undefined, 'resolved by name once the service exists');
    assert.equal(reg.reason, 'new');
    assert.equal(reg.attributes.AWS_INSTANCE_IPV4, '10.0.0.1');
    assert.equal(reg.attributes[INIT_HEALTH_KEY], 'HEALTHY');
  });

  it('registers a new unhealthy instance as UNHEALTHY and pushes the status too', () => {
    const actions = planSync([svc('greeter', [inst('a', { healthy: false })])], { services: [] }, opts);
    assert.deepEqual(brief(actions), ['create greeter', 'registerInstance greeter/a', 'health greeter/a UNHEALTHY']);
    const reg = actions[1];
    assert.ok(reg?.kind === 'registerInstance');
    assert.equal(reg.attributes[INIT_HEALTH_KEY], 'UNHEALTHY');
  });

  it('plans no writes when Cloud Map already mirrors Consul', () => {
    const d = [svc('greeter', [inst('a'), inst('b', { healthy: false })]), svc('other', [inst('c', { tags: ['x', 'y'] })])];
    const actual = {
      services: [
        actualSvc(
          'greeter',
          d[0]!.instances.map((i) => mirrored(i)),
        ),
        actualSvc(
          'other',
          d[1]!.instances.map((i) => mirrored(i)),
        ),
      ],
    };
    assert.deepEqual(planSync(d, actual, opts), []);
  });

  it('re-registers an instance whose attributes changed', () => {
    const before = inst('a');
    const actions = planSync(
      [svc('greeter', [inst('a', { port: 50052 })])],
      { services: [actualSvc('greeter', [mirrored(before)])] },
      opts,
    );
    assert.deepEqual(brief(actions), ['registerInstance greeter/a']);
    assert.ok(actions[0]?.kind === 'registerInstance' && actions[0].reason === 'changed' && actions[0].serviceId === 'srv-greeter');
  });

  it('pushes health again after re-registering an unhealthy instance', () => {
    const before = inst('a', { healthy: false });
    const actions = planSync(
      [svc('greeter', [inst('a', { healthy: false, tags: ['v2'] })])],
      { services: [actualSvc('greeter', [mirrored(before)])] },
      opts,
    );
    assert.deepEqual(brief(actions), ['registerInstance greeter/a', 'health greeter/a UNHEALTHY']);
  });

  it('pushes only the health that differs', () => {
    const a = inst('a', { healthy: false });
    const b = inst('b');
    const c = inst('c');
    const actual = { services: [actualSvc('greeter', [mirrored(a, 'HEALTHY'), mirrored(b, 'HEALTHY'), mirrored(c, 'UNKNOWN')])] };
    const actions = planSync([svc('greeter', [a, b, c])], actual, opts);
    assert.deepEqual(brief(actions), ['health greeter/a UNHEALTHY', 'health greeter/c HEALTHY']);
    assert.ok(actions[0]?.kind === 'updateHealth' && actions[0].previous === 'HEALTHY');
  });

  it('deregisters instances that left Consul', () => {
    const a = inst('a');
    const actions = planSync([svc('greeter', [a])], { services: [actualSvc('greeter', [mirrored(a), mirrored(inst('gone'))])] }, opts);
    assert.deepEqual(brief(actions), ['deregisterInstance greeter/gone']);
  });

  it('empties a service of ours that Consul no longer has, but keeps the service', () => {
    const actions = planSync([], { services: [actualSvc('old', [mirrored(inst('x')), mirrored(inst('y'))])] }, opts);
    assert.deepEqual(brief(actions), ['deregisterInstance old/x', 'deregisterInstance old/y']);
  });

  it('never touches a same-named service without our marker, nor its instances', () => {
    const foreign = actualSvc('greeter', [mirrored(inst('theirs'))], { id: 'srv-foreign', description: 'hand made' });
    const actions = planSync([svc('greeter', [inst('a', { healthy: false })])], { services: [foreign] }, opts);
    assert.deepEqual(actions, [{ kind: 'skipForeignService', serviceName: 'greeter', serviceId: 'srv-foreign', description: 'hand made' }]);
    assert.equal(actions.filter(isWriteAction).length, 0);
  });

  it('ignores foreign services Consul does not have', () => {
    const foreign = actualSvc('billing', [mirrored(inst('x'))], { description: undefined });
    assert.deepEqual(planSync([], { services: [foreign] }, opts), []);
  });

  it('treats a service managed for another marker as foreign', () => {
    const other = actualSvc('greeter', [], { description: ownerDescription('health-sync/staging') });
    assert.deepEqual(brief(planSync([svc('greeter', [inst('a')])], { services: [other] }, opts)), ['skipForeignService greeter']);
  });

  it('prefers our service when a foreign one has the same name', () => {
    const foreign = actualSvc('greeter', [], { id: 'srv-0', description: 'theirs' });
    const mine = actualSvc('greeter', [], { id: 'srv-9' });
    const actions = planSync([svc('greeter', [inst('a')])], { services: [foreign, mine] }, opts);
    assert.deepEqual(brief(actions), ['registerInstance greeter/a']);
    assert.ok(actions[0]?.kind === 'registerInstance' && actions[0].serviceId === 'srv-9');
  });

  it('does not push health to a service of ours created without a custom health config', () => {
    const a = inst('a', { healthy: false });
    const legacy = actualSvc('greeter', [{ ...mirrored(a), health: 'UNKNOWN' }], { customHealth: false });
    assert.deepEqual(planSync([svc('greeter', [a])], { services: [legacy] }, opts), []);
    const actions = planSync([svc('greeter', [a, inst('b', { healthy: false })])], { services: [legacy] }, opts);
    assert.deepEqual(brief(actions), ['registerInstance greeter/b']);
    assert.ok(actions[0]?.kind === 'registerInstance' && !(INIT_HEALTH_KEY in actions[0].attributes));
  });

  it('reports how many Consul tags and meta entries did not fit', () => {
    const meta = Object.fromEntries(Array.from({ length: 35 }, (_, i) => [`k${i}`, 'v']));
    const actions = planSync([svc('greeter', [inst('a', { tags: [], meta })])], { services: [] }, opts);
    assert.ok(actions[1]?.kind === 'registerInstance');
    assert.equal(actions[1].droppedAttributes, 35 - 27);
  });

  it('plans the same actions whatever the input order, with services created first', () => {
    const d1 = [svc('b', [inst('2'), inst('1')]), svc('a', [inst('3', { healthy: false })])];
    const d2 = [svc('a', [inst('3', { healthy: false })]), svc('b', [inst('1'), inst('2')])];
    const p1 = planSync(d1, { services: [] }, opts);
    assert.deepEqual(p1, planSync(d2, { services: [] }, opts));
    assert.deepEqual(brief(p1), [
      'create a',
      'create b',
      'registerInstance a/3',
      'health a/3 UNHEALTHY',
      'registerInstance b/1',
      'registerInstance b/2',
    ]);
  });

  it('keeps the first of duplicate desired services and instances', () => {
    const actions = planSync([svc('a', [inst('1', { port: 1 }), inst('1', { port: 2 })]), svc('a', [inst('9')])], { services: [] }, opts);
    assert.deepEqual(brief(actions), ['create a', 'registerInstance a/1']);
    assert.ok(actions[1]?.kind === 'registerInstance' && actions[1].attributes.AWS_INSTANCE_PORT === '1');
  });

  it('converges: planning against the result of its own plan yields no writes', () => {
    const desired = [svc('a', [inst('1'), inst('2', { healthy: false })]), svc('b', [inst('3')])];
    const start = {
      services: [actualSvc('a', [mirrored(inst('1', { port: 9 })), mirrored(inst('old'))]), actualSvc('c', [mirrored(inst('4'))])],
    };
    const actions = planSync(desired, start, opts);
    assert.ok(actions.length > 0);
    // Apply the plan to a model of Cloud Map.
    const model = new Map(start.services.map((s) => [s.name, { ...s, instances: [...(s.instances ?? [])] }]));
    for (const a of actions) {
      if (a.kind === 'createService') model.set(a.serviceName, { ...actualSvc(a.serviceName, []), instances: [] });
      const s = model.get(a.serviceName);
      if (!s) continue;
      if (a.kind === 'registerInstance')
        s.instances = [
          ...s.instances.filter((i) => i.id !== a.instanceId),
          { id: a.instanceId, attributes: a.attributes, health: (a.attributes[INIT_HEALTH_KEY] as CustomHealth | undefined) ?? 'HEALTHY' },
        ];
      if (a.kind === 'deregisterInstance') s.instances = s.instances.filter((i) => i.id !== a.instanceId);
      if (a.kind === 'updateHealth') s.instances = s.instances.map((i) => (i.id === a.instanceId ? { ...i, health: a.status } : i));
    }
    assert.deepEqual(planSync(desired, { services: [...model.values()] }, opts).filter(isWriteAction), []);
  });
});
