// The real client (SDK middleware, retries, timeouts, signing) against a tiny
// loopback server speaking Cloud Map's JSON protocol. aws-sdk-client-mock
// replaces `send`, so it cannot show what the SDK's retry strategy does.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DiscoverInstancesCommand, ListServicesCommand } from '@aws-sdk/client-servicediscovery';
import { applyPlan } from '../../../lib/cloudmap/apply';
import { createCloudMapClient } from '../../../lib/cloudmap/cloudmap-client';
import { silentLog } from '../../../lib/log/logger';

interface Seen {
  target: string;
  host: string;
  authorization: string;
}
type Reply = (res: ServerResponse) => void;

const seen: Seen[] = [];
let replies: Reply[] = [];
let server: Server;
let endpoint: string;

const ok =
  (body: object): Reply =>
  (res) =>
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(body));
const awsError =
  (status: number, type: string): Reply =>
  (res) =>
    res
      .writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': type })
      .end(JSON.stringify({ __type: type, Message: `${type} from fake` }));
const silent: Reply = () => undefined;

before(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      seen.push({
        target: String(req.headers['x-amz-target'] ?? ''),
        host: String(req.headers.host ?? ''),
        authorization: String(req.headers.authorization ?? ''),
      });
      (replies.shift() ?? ok({}))(res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  seen.length = 0;
  replies = [];
});

describe('createCloudMapClient', { timeout: 20_000 }, () => {
  it('retries a throttled call with backoff and then succeeds', async () => {
    replies = [awsError(400, 'RequestLimitExceeded'), ok({ Services: [{ Id: 'srv-1', Name: 'a' }] })];
    const client = createCloudMapClient({ region: 'eu-west-1', endpoint, maxAttempts: 3 });
    const out = await client.send(new ListServicesCommand({}));
    assert.equal(out.Services?.[0]?.Id, 'srv-1');
    assert.equal(out.$metadata.attempts, 2);
    assert.deepEqual(
      seen.map((s) => s.target),
      ['Route53AutoNaming_v20170314.ListServices', 'Route53AutoNaming_v20170314.ListServices'],
    );
    client.destroy();
  });

  it('retries a 5xx answer', async () => {
    replies = [awsError(503, 'ServiceUnavailable'), ok({ Services: [] })];
    const client = createCloudMapClient({ region: 'eu-west-1', endpoint, maxAttempts: 2 });
    assert.equal((await client.send(new ListServicesCommand({}))).$metadata.attempts, 2);
    client.destroy();
  });

  it('gives up after maxAttempts', async () => {
    replies = [awsError(400, 'RequestLimitExceeded'), awsError(400, 'RequestLimitExceeded'), awsError(400, 'RequestLimitExceeded')];
    const client = createCloudMapClient({ region: 'eu-west-1', endpoint, maxAttempts: 2 });
    await assert.rejects(client.send(new ListServicesCommand({})), { name: 'RequestLimitExceeded' });
    assert.equal(seen.length, 2);
    client.destroy();
  });

  it('times out an attempt that gets no answer', async () => {
    replies = [silent];
    const client = createCloudMapClient({ region: 'eu-west-1', endpoint, maxAttempts: 1, requestTimeoutMs: 200 });
    const t0 = Date.now();
    await assert.rejects(client.send(new ListServicesCommand({})));
    assert.ok(Date.now() - t0 < 3_000, `took ${Date.now() - t0} ms`);
    client.destroy();
  });

  it('sends DiscoverInstances to the local endpoint itself, without the data- host prefix', async () => {
    replies = [ok({ Instances: [] })];
    const client = createCloudMapClient({ region: 'eu-west-1', endpoint, maxAttempts: 1 });
    await client.send(new DiscoverInstancesCommand({ NamespaceName: 'n', ServiceName: 's' }));
    assert.equal(seen[0]?.host, new URL(endpoint).host);
    client.destroy();
  });

  it('signs with static test credentials at a local endpoint, whatever keys the environment holds', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = 'AKIAREALKEYNOTFORMOTO';
    process.env.AWS_SECRET_ACCESS_KEY = 'real-secret';
    try {
      const client = createCloudMapClient({ region: 'eu-west-1', endpoint, maxAttempts: 1 });
      await client.send(new ListServicesCommand({}));
      assert.match(seen[0]?.authorization ?? '', /Credential=testing\/\d{8}\/eu-west-1\/servicediscovery\//);
      client.destroy();
    } finally {
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      else process.env.AWS_ACCESS_KEY_ID = saved.id;
      if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
      else process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    }
  });
});

describe('applyPlan with the real client', { timeout: 20_000 }, () => {
  it('lets the SDK retry a throttled write: the action succeeds and the retry is counted', async () => {
    replies = [awsError(400, 'RequestLimitExceeded'), ok({ OperationId: 'op-1' })];
    const client = createCloudMapClient({ region: 'eu-west-1', endpoint, maxAttempts: 3 });
    const s = await applyPlan(
      client,
      [
        {
          kind: 'registerInstance',
          serviceName: 'a',
          serviceId: 'srv-a',
          instanceId: '1',
          attributes: { AWS_INSTANCE_IPV4: '10.0.0.1' },
          reason: 'new',
          droppedAttributes: 0,
        },
      ],
      { concurrency: 1, log: silentLog },
    );
    assert.deepEqual(s.errors, []);
    assert.equal(s.registered, 1);
    assert.deepEqual(s.calls, { RegisterInstance: 1 });
    assert.equal(s.retries, 1);
    assert.equal(seen.length, 2);
    client.destroy();
  });

  it('reports a write still throttled after maxAttempts as a throttling error', async () => {
    replies = [awsError(400, 'RequestLimitExceeded'), awsError(400, 'RequestLimitExceeded')];
    const client = createCloudMapClient({ region: 'eu-west-1', endpoint, maxAttempts: 2 });
    const s = await applyPlan(
      client,
      [{ kind: 'updateHealth', serviceName: 'a', serviceId: 'srv-a', instanceId: '1', status: 'HEALTHY' }],
      { concurrency: 1, log: silentLog },
    );
    assert.equal(s.healthChanges, 0);
    assert.match(s.errors[0]?.message ?? '', /^UpdateInstanceCustomHealthStatus: RequestLimitExceeded from fake$/);
    assert.equal(s.retries, 1);
    client.destroy();
  });
});
