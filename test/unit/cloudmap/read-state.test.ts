import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  GetInstancesHealthStatusCommand,
  GetServiceCommand,
  ListInstancesCommand,
  ListServicesCommand,
  ServiceDiscoveryClient,
} from '@aws-sdk/client-servicediscovery';
import { mockClient } from 'aws-sdk-client-mock';
import { CloudMapRequestError } from '../../../lib/cloudmap/errors';
import { readCloudMapState } from '../../../lib/cloudmap/read-state';
import { recordingLog } from '../helpers/recording-log';

const OURS = 'managed-by: t';

/** A fresh client per test: the namespace cache is per client. */
function setup() {
  const client = new ServiceDiscoveryClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  const cm = mockClient(client);
  cm.on(GetServiceCommand).callsFake(async (input: { Id: string }) => ({
    Service: { Id: input.Id, NamespaceId: input.Id.startsWith('srv-other') ? 'ns-2' : 'ns-1' },
  }));
  return { client, cm };
}

describe('readCloudMapState', () => {
  it('follows NextToken everywhere and counts the calls per operation', async () => {
    const { client, cm } = setup();
    cm.on(ListServicesCommand).resolves({
      Services: [{ Id: 'srv-a', Name: 'a', Description: OURS, HealthCheckCustomConfig: {} }],
      NextToken: 't1',
    });
    cm.on(ListServicesCommand, { NextToken: 't1' }).resolves({
      Services: [{ Id: 'srv-b', Name: 'b', Description: OURS, HealthCheckCustomConfig: {} }],
    });
    cm.on(ListInstancesCommand).resolves({ Instances: [] });
    cm.on(ListInstancesCommand, { ServiceId: 'srv-a' }).resolves({ Instances: [{ Id: '1', Attributes: { k: 'v' } }], NextToken: 'p2' });
    cm.on(ListInstancesCommand, { ServiceId: 'srv-a', NextToken: 'p2' }).resolves({ Instances: [{ Id: '2', Attributes: {} }] });
    cm.on(GetInstancesHealthStatusCommand, { ServiceId: 'srv-a' }).resolves({ Status: { '1': 'UNHEALTHY' }, NextToken: 'h2' });
    cm.on(GetInstancesHealthStatusCommand, { ServiceId: 'srv-a', NextToken: 'h2' }).resolves({ Status: { '2': 'HEALTHY' } });

    const state = await readCloudMapState(client, 'ns-1', { ownerMarker: 't' });
    assert.deepEqual(
      state.services.map((s) => s.name),
      ['a', 'b'],
    );
    assert.deepEqual(state.services[0]?.instances, [
      { id: '1', attributes: { k: 'v' }, health: 'UNHEALTHY' },
      { id: '2', attributes: {}, health: 'HEALTHY' },
    ]);
    assert.deepEqual(state.services[1]?.instances, []);
    // srv-b has no instances, so its health is not asked for.
    assert.deepEqual(state.calls, { ListServices: 2, GetService: 2, ListInstances: 3, GetInstancesHealthStatus: 2 });
    assert.deepEqual(cm.commandCalls(ListServicesCommand)[0]?.args[0].input.Filters, [
      { Name: 'NAMESPACE_ID', Values: ['ns-1'], Condition: 'EQ' },
    ]);
  });

  it('drops services of other namespaces even when the server ignores the filter, asking only once per service', async () => {
    const { client, cm } = setup();
    cm.on(ListServicesCommand).resolves({
      Services: [
        { Id: 'srv-a', Name: 'a', Description: OURS },
        { Id: 'srv-other', Name: 'a', Description: OURS },
      ],
    });
    cm.on(ListInstancesCommand).resolves({ Instances: [] });
    const first = await readCloudMapState(client, 'ns-1');
    assert.deepEqual(
      first.services.map((s) => s.id),
      ['srv-a'],
    );
    const second = await readCloudMapState(client, 'ns-1');
    assert.deepEqual(
      second.services.map((s) => s.id),
      ['srv-a'],
    );
    assert.equal(second.calls.GetService, undefined, 'namespaces are cached for the client');
    assert.equal(cm.commandCalls(GetServiceCommand).length, 2);
  });

  it('does not look into services that are not ours', async () => {
    const { client, cm } = setup();
    cm.on(ListServicesCommand).resolves({
      Services: [{ Id: 'srv-f', Name: 'f', Description: 'someone else', HealthCheckCustomConfig: {} }],
    });
    const state = await readCloudMapState(client, 'ns-1', { ownerMarker: 't' });
    assert.equal(state.services[0]?.instances, undefined);
    assert.equal(cm.commandCalls(ListInstancesCommand).length, 0);
  });

  it('reports UNKNOWN health, and asks none of a service without a custom health config', async () => {
    const { client, cm } = setup();
    cm.on(ListServicesCommand).resolves({
      Services: [
        { Id: 'srv-a', Name: 'a', Description: OURS, HealthCheckCustomConfig: {} },
        { Id: 'srv-b', Name: 'b', Description: OURS },
      ],
    });
    cm.on(ListInstancesCommand).resolves({ Instances: [{ Id: '1', Attributes: {} }] });
    cm.on(GetInstancesHealthStatusCommand).resolves({ Status: {} });
    const state = await readCloudMapState(client, 'ns-1', { ownerMarker: 't', verifyNamespace: false });
    assert.deepEqual(
      state.services.map((s) => [s.name, s.customHealth, s.instances?.[0]?.health]),
      [
        ['a', true, 'UNKNOWN'],
        ['b', false, 'UNKNOWN'],
      ],
    );
    assert.equal(cm.commandCalls(GetInstancesHealthStatusCommand).length, 1);
    assert.equal(cm.commandCalls(GetServiceCommand).length, 0);
  });

  it('keeps the last copy of an instance listed twice (moto re-registration)', async () => {
    const { client, cm } = setup();
    cm.on(ListServicesCommand).resolves({ Services: [{ Id: 'srv-a', Name: 'a', Description: OURS }] });
    cm.on(ListInstancesCommand).resolves({
      Instances: [
        { Id: '1', Attributes: { v: 'old' } },
        { Id: '1', Attributes: { v: 'new' } },
      ],
    });
    const log = recordingLog();
    const state = await readCloudMapState(client, 'ns-1', { verifyNamespace: false, log });
    assert.deepEqual(state.services[0]?.instances, [{ id: '1', attributes: { v: 'new' }, health: 'UNKNOWN' }]);
    assert.deepEqual(log.lines, [
      {
        level: 'warn',
        message: 'Cloud Map listed an instance id more than once; keeping the last',
        attributes: { serviceId: 'srv-a', listed: 2, unique: 1 },
      },
    ]);
  });

  it('stops when a NextToken comes back twice instead of looping forever', async () => {
    const { client, cm } = setup();
    cm.on(ListServicesCommand).resolves({ Services: [], NextToken: 'same' });
    await assert.rejects(readCloudMapState(client, 'ns-1'), /ListServices: NextToken same came back twice/);
    assert.equal(cm.commandCalls(ListServicesCommand).length, 2);
  });

  it('fails as a whole with the failing operation named, so no plan runs on partial state', async () => {
    const { client, cm } = setup();
    cm.on(ListServicesCommand).resolves({ Services: [{ Id: 'srv-a', Name: 'a', Description: OURS }] });
    cm.on(ListInstancesCommand).rejects(Object.assign(new Error('slow down'), { name: 'RequestLimitExceeded' }));
    await assert.rejects(readCloudMapState(client, 'ns-1'), (err: unknown) => {
      assert.ok(err instanceof CloudMapRequestError);
      assert.equal(err.operation, 'ListInstances');
      assert.equal(err.isThrottling, true);
      return true;
    });
  });
});
