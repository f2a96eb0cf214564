// The real node-consul client against tiny loopback servers speaking Consul's
// HTTP API: what a fake ConsulApi cannot show is how headers are read, how
// errors map, and when a call moves on to the next address. A closed port
// refuses at once; the one timeout test runs the call's timer on mock.timers.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { createConsulApi } from '../../../lib/consul/consul-api';
import { ConsulRequestError, ConsulTimeoutError, ConsulTlsError } from '../../../lib/consul/errors';
import { kvGetRecursive } from '../../../lib/consul/kv';
import { assertSettlesAfter, deferred, drainMicrotasks } from '../helpers/deferred';

interface FakeServer {
  address: string;
  requests: { url: string; token: string | undefined }[];
}

// Only guards against a hang if a change breaks a call; no test waits on it.
const GUARD = { timeout: 10_000 };

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

/** A server answering every request with `reply`, recording what it got. */
async function consulServer(reply: (req: IncomingMessage, res: ServerResponse) => void): Promise<FakeServer> {
  const requests: FakeServer['requests'] = [];
  const server = createServer((req, res) => {
    const token = req.headers['x-consul-token'];
    requests.push({ url: req.url ?? '', token: Array.isArray(token) ? token[0] : token });
    reply(req, res);
  });
  servers.push(server);
  return { address: await listen(server), requests };
}

/** An address nothing listens on: connections are refused at once. */
async function closedAddress(): Promise<string> {
  const server = createServer();
  const address = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return address;
}

const kvItems = [{ Key: 'config/a', Value: Buffer.from('1').toString('base64'), ModifyIndex: 5 }];
const kvAnswer =
  (headers: Record<string, string> = {}) =>
  (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/json', 'x-consul-index': '42', ...headers });
    res.end(JSON.stringify(kvItems));
  };
const errorAnswer = (status: number, text: string) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(status, { 'content-type': 'text/plain' });
  res.end(text);
};

describe('createConsulApi', () => {
  it('reads the body, X-Consul-Index, X-Consul-KnownLeader and X-Consul-LastContact, sending the token', GUARD, async () => {
    const consul = await consulServer(kvAnswer({ 'x-consul-knownleader': 'false', 'x-consul-lastcontact': '1234' }));
    const api = createConsulApi({ address: consul.address, token: () => 'secret-token' });
    try {
      const res = await kvGetRecursive(api, 'config/');
      assert.deepEqual(res, {
        value: [{ key: 'config/a', value: '1', modifyIndex: 5 }],
        index: '42',
        knownLeader: false,
        lastContactMs: 1234,
      });
      assert.equal(consul.requests[0]?.token, 'secret-token');
      assert.equal(consul.requests[0]?.url, '/v1/kv/config%2F?recurse=true');
      assert.equal(api.requestCounts.get('consul.kv.get'), 1);
      assert.equal(api.address, `http://${consul.address}`);
    } finally {
      api.destroy();
    }
  });

  it('leaves knownLeader and lastContactMs undefined when Consul sends no such headers', GUARD, async () => {
    const consul = await consulServer(kvAnswer());
    const api = createConsulApi({ address: consul.address });
    try {
      const res = await kvGetRecursive(api, 'config/');
      assert.deepEqual(
        { knownLeader: res.knownLeader, lastContactMs: res.lastContactMs },
        { knownLeader: undefined, lastContactMs: undefined },
      );
    } finally {
      api.destroy();
    }
  });

  it('maps 403 to a forbidden error and 500 to an unavailable one, with the status', GUARD, async () => {
    for (const [status, kind] of [
      [403, 'forbidden'],
      [500, 'unavailable'],
    ] as const) {
      const consul = await consulServer(errorAnswer(status, 'Permission denied'));
      const api = createConsulApi({ address: consul.address });
      try {
        await assert.rejects(
          kvGetRecursive(api, 'config/'),
          (err: unknown) =>
            err instanceof ConsulRequestError && err.kind === kind && err.statusCode === status && err.operation === 'consul.kv.get',
        );
      } finally {
        api.destroy();
      }
    }
  });

  it('moves on to the next address when one refuses the connection, and keeps using that one', GUARD, async () => {
    const down = await closedAddress();
    const up = await consulServer(kvAnswer());
    const api = createConsulApi({ address: `${down},${up.address}` });
    try {
      assert.equal((await kvGetRecursive(api, 'config/')).index, '42');
      assert.equal(api.failovers, 1);
      assert.equal(api.address, `http://${up.address}`);
      await kvGetRecursive(api, 'config/');
      assert.equal(up.requests.length, 2);
      assert.equal(api.requestCounts.get('consul.kv.get'), 3, 'every attempt is counted');
      assert.equal(api.requestErrors, 1, 'the refused attempt is an error, the answers are not');
      assert.equal(api.failovers, 1, 'the second call went straight to the address that answers');
    } finally {
      api.destroy();
    }
  });

  it('does not move on when Consul answered, even with an error', GUARD, async () => {
    for (const status of [403, 500]) {
      const first = await consulServer(errorAnswer(status, 'no'));
      const second = await consulServer(kvAnswer());
      const api = createConsulApi({ address: `${first.address},${second.address}` });
      try {
        await assert.rejects(
          kvGetRecursive(api, 'config/'),
          (err: unknown) => err instanceof ConsulRequestError && err.statusCode === status,
        );
        assert.equal(second.requests.length, 0);
        assert.equal(api.failovers, 0);
        assert.equal(api.requestErrors, 1);
      } finally {
        api.destroy();
      }
    }
  });

  it('throws an unavailable error when every address refuses', GUARD, async () => {
    const api = createConsulApi({ address: `${await closedAddress()},${await closedAddress()}` });
    try {
      await assert.rejects(
        kvGetRecursive(api, 'config/'),
        (err: unknown) =>
          err instanceof ConsulRequestError &&
          err.kind === 'unavailable' &&
          err.statusCode === undefined &&
          /ECONNREFUSED/.test(err.message),
      );
      assert.equal(api.requestCounts.get('consul.kv.get'), 2);
    } finally {
      api.destroy();
    }
  });

  it('fails closed on a TLS failure: no move to the next address, no plain HTTP, one clear error', GUARD, async () => {
    // Plain HTTP servers behind https:// addresses: the TLS handshake itself fails.
    const first = await consulServer(kvAnswer());
    const second = await consulServer(kvAnswer());
    const api = createConsulApi({ address: `https://${first.address},https://${second.address}` });
    try {
      await assert.rejects(
        kvGetRecursive(api, 'config/'),
        (err: unknown) =>
          err instanceof ConsulTlsError &&
          err instanceof ConsulRequestError &&
          err.kind === 'unavailable' &&
          err.statusCode === undefined &&
          err.message.startsWith(`consul.kv.get: TLS verification failed for https://${first.address} (`) &&
          /EPROTO|ERR_SSL_/.test(err.message),
      );
      assert.equal(first.requests.length + second.requests.length, 0, 'no request was sent in plain HTTP');
      assert.equal(api.failovers, 0);
      assert.equal(api.address, `https://${first.address}`);
    } finally {
      api.destroy();
    }
  });

  it('gives a silent address its share of the budget, then moves on', GUARD, async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const heard = deferred();
    const silent = await consulServer(() => heard.resolve()); // never answers
    const up = await consulServer(kvAnswer());
    const api = createConsulApi({ address: `${silent.address},${up.address}` });
    try {
      let settled = false;
      const call = kvGetRecursive(api, 'config/', { timeoutMs: 1_000 }).finally(() => (settled = true));
      await heard.promise;
      t.mock.timers.tick(499);
      await drainMicrotasks();
      assert.equal(settled, false);
      assert.equal(up.requests.length, 0, 'the silent address gets half the budget of two');
      t.mock.timers.tick(1);
      await drainMicrotasks();
      assert.equal(api.failovers, 1, 'moved on once its share was spent');
      assert.equal((await call).index, '42');
      assert.equal(settled, true);
    } finally {
      api.destroy();
    }
  });

  it('reports a call that got no answer within its budget as a timeout', GUARD, async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const heard = deferred();
    const silent = await consulServer(() => heard.resolve());
    const api = createConsulApi({ address: silent.address });
    try {
      let settled = false;
      const call = kvGetRecursive(api, 'config/', { timeoutMs: 300 }).finally(() => (settled = true));
      call.catch(() => undefined);
      await heard.promise;
      await assertSettlesAfter(t.mock.timers, 300, () => settled, 'cancelled when the budget ran out');
      await assert.rejects(call, (err: unknown) => err instanceof ConsulTimeoutError && /timed out after 300 ms/.test(err.message));
    } finally {
      api.destroy();
    }
  });
});
