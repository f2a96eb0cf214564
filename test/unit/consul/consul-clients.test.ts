// The blocking-query client's HTTP agent against a real loopback HTTP server: a burst of concurrent
// blocking waits must not leave one idle keep-alive connection each (Consul counts them per IP).
import assert from 'node:assert/strict';
import { createServer, request, type Agent, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { agentFor, IDLE_BLOCKING_SOCKETS } from '../../../lib/consul/consul-clients';
import { eventually } from '../../../scripts/support/poll-until';

const held: ServerResponse[] = [];
const server = createServer((_req, res) => held.push(res));
let port = 0;

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

const openConnections = () => new Promise<number>((resolve, reject) => server.getConnections((e, n) => (e ? reject(e) : resolve(n))));

function get(agent: Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/v1/kv/x?index=1', agent, timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

describe('agentFor', () => {
  it(`keeps at most ${IDLE_BLOCKING_SOCKETS} idle connections after a burst of concurrent blocking queries`, async () => {
    const agent = agentFor(false, true, undefined) as Agent;
    const burst = 3 * IDLE_BLOCKING_SOCKETS;
    try {
      const calls = Array.from({ length: burst }, () => get(agent));
      await eventually(() => held.length === burst, 5_000, 'every query reached the server');
      assert.equal(await openConnections(), burst, 'one connection per query in flight');
      for (const res of held.splice(0)) res.end('[]');
      await Promise.all(calls);
      await eventually(async () => (await openConnections()) <= IDLE_BLOCKING_SOCKETS, 5_000, 'the surplus connections closed');
      // The kept ones are reused: the next query opens no new connection.
      const next = get(agent);
      await eventually(() => held.length === 1, 5_000, 'the next query reached the server');
      assert.ok((await openConnections()) <= IDLE_BLOCKING_SOCKETS);
      held.splice(0)[0]!.end('[]');
      await next;
    } finally {
      agent.destroy();
    }
  });

  it('closes the connection of every other call after its answer', async () => {
    const agent = agentFor(false, false, undefined) as Agent;
    try {
      const call = get(agent);
      await eventually(() => held.length === 1, 5_000, 'the call reached the server');
      held.splice(0)[0]!.end('[]');
      await call;
      await eventually(async () => (await openConnections()) === 0, 5_000, 'no connection left open');
    } finally {
      agent.destroy();
    }
  });
});
