// ConsulThrottled's source: the requests Consul refused with 429, counted apart from other errors.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { createConsulApi } from '../../../lib/consul/consul-api';
import { isThrottled } from '../../../lib/consul/errors';
import { kvGetRecursive } from '../../../lib/consul/kv';
import { createRuntimeMetrics } from '../../../lib/runtime/runtime-metrics';

async function answering(status: number): Promise<{ address: string; close: () => Promise<void> }> {
  const server = createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end('no');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('Consul 429s', { timeout: 10_000 }, () => {
  it('counts a 429 as throttled and as an error, a 500 as an error only', async () => {
    for (const [status, throttled] of [
      [429, 1],
      [500, 0],
    ] as const) {
      const server = await answering(status);
      const api = createConsulApi({ address: server.address });
      try {
        await assert.rejects(kvGetRecursive(api, 'config/'), (err: unknown) => isThrottled(err) === (status === 429));
        assert.equal(api.requestErrors, 1);
        assert.equal(api.requestsThrottled, throttled);
      } finally {
        api.destroy();
        await server.close();
      }
    }
  });

  it('publishes ConsulThrottled since the last EMF line', async () => {
    const server = await answering(429);
    const api = createConsulApi({ address: server.address });
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    try {
      const lease = { snapshot: () => ({ renewals: 0, failedAttempts: 0 }) } as unknown as Parameters<
        typeof createRuntimeMetrics
      >[0]['lease'];
      const metrics = createRuntimeMetrics(
        { consul: api, lease, onShutdown: () => undefined },
        { metricsNamespace: 'test', serviceName: 'greet' },
      );
      await assert.rejects(kvGetRecursive(api, 'config/'));
      await assert.rejects(kvGetRecursive(api, 'config/'));
      process.stdout.write = ((chunk: string | Uint8Array) => (lines.push(String(chunk)), true)) as typeof process.stdout.write;
      metrics.count('GreetErrors');
      metrics.flush(true);
    } finally {
      process.stdout.write = write;
      api.destroy();
      await server.close();
    }
    const emf = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => '_aws' in l);
    assert.equal(emf?.ConsulThrottled, 2);
    assert.equal(emf?.ConsulErrors, 2);
  });
});
