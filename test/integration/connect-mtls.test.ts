// Connect-native mTLS between the greet function (in-process, as Lambda calls it) and real Greeter
// backends, on a real Consul dev agent (ACLs on, default deny) with its built-in CA.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { runtime as greetRuntime } from '../../functions/greet';
import { startGreeter } from '../../scripts/stack/greeters';
import { eventually, invokeGreet, PASSING_WAIT_MS, passingIds, startTestStack, type TestStack, useFunctionEnvironment } from './harness';

const greet = (name: string) => invokeGreet(name);

const GATEWAY = 'greeter-gateway-lambda';
let stack: TestStack;

async function intention(action: 'allow' | 'deny', destination = 'greeter'): Promise<void> {
  await stack.admin.request(
    'test.intention',
    { timeoutMs: 5_000 },
    { method: 'PUT', path: '/connect/intentions/exact', query: { source: GATEWAY, destination }, body: { Action: action } },
  );
}

before(async () => {
  stack = await startTestStack();
  await stack.setConfig({
    discoveryMinIntervalMs: '0',
    configMaxAgeSeconds: '1',
    coldStartWaitMs: '5000',
    greeterTransport: 'connect',
    greeterTag: 'mtls',
  });
  // The backend token (service:write on greeter) is what fetches its leaf and authorizes callers.
  await stack.addGreeter({ id: 'mtls-1', tags: ['mtls'], connect: true });
  // A plaintext instance with the same tag: not Connect-capable, so never routed to in connect mode.
  await stack.addGreeter({ id: 'plain-1', tags: ['mtls'] });
  useFunctionEnvironment(stack);
});
after(async () => {
  greetRuntime.reset();
  await stack?.stop();
});

describe('greet over Connect-native mTLS', () => {
  it('serves a caller an allow intention permits, through the Connect-capable instance only', async () => {
    await intention('allow');
    for (let i = 0; i < 5; i++) {
      const res = await greet('Ada');
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.servedBy?.id, 'mtls-1');
    }
  });

  it('answers 403 INTENTION_DENIED once a deny intention is written, without a cold start, and 200 again after allow', async () => {
    await intention('deny');
    let last: Awaited<ReturnType<typeof greet>> | undefined;
    await eventually(async () => (last = await greet('Ada')).status === 403, 10_000, 'the deny to apply');
    assert.equal(last?.body.error?.code, 'INTENTION_DENIED');
    await intention('allow');
    await eventually(async () => (await greet('Ada')).status === 200, 10_000, 'the allow to apply again');
  });

  it('refuses a backend whose certificate names another service', async () => {
    // Registered as greeter (tag impostor), but presenting the leaf of "impostor".
    const impostor = await startGreeter({
      id: 'impostor-1',
      tags: ['impostor'],
      connect: true,
      connectIdentity: 'impostor',
      consulAddress: stack.consul.address,
      token: stack.consul.managementToken,
    });
    stack.greeters.push(impostor);
    await eventually(async () => (await passingIds(stack.admin, 'greeter')).includes('impostor-1'), PASSING_WAIT_MS, 'impostor-1 passing');
    await stack.setConfig({ greeterTag: 'impostor' });
    // Config is re-read in the background: wait until an answer is no longer served by mtls-1.
    let res: Awaited<ReturnType<typeof greet>> | undefined;
    await eventually(async () => (res = await greet('Ada')).body.servedBy?.id !== 'mtls-1', 10_000, 'the impostor tag to apply');
    assert.equal(res?.status, 503, JSON.stringify(res?.body));
    assert.equal(res?.body.error?.code, 'BACKEND_UNAVAILABLE');
    for (let i = 0; i < 3; i++) assert.equal((await greet('Ada')).status, 503);
    await stack.setConfig({ greeterTag: 'mtls' });
    await eventually(async () => (await greet('Ada')).status === 200, 10_000, 'routing back to mtls-1');
  });

  it('rides through a CA root rotation under traffic without a failed request', async () => {
    const certs = greetRuntime.peek()?.connectIdentities()[0];
    const before = certs?.current();
    if (!certs || !before) throw new Error('the gateway holds no Connect certificates');
    const failures: unknown[] = [];
    let ok = 0;
    let stop = false;
    const traffic = (async () => {
      while (!stop) {
        const res = await greet('Ada');
        if (res.status === 200) ok++;
        else failures.push(res.body);
        await sleep(20);
      }
    })();
    try {
      // The built-in CA rotates to a new root when given a new private key; Consul cross-signs it.
      const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'sec1', format: 'pem' });
      await stack.admin.request(
        'test.ca.rotate',
        { timeoutMs: 10_000 },
        { method: 'PUT', path: '/connect/ca/configuration', body: { Provider: 'consul', Config: { PrivateKey: key } } },
      );
      // The background watches pick up the new roots and the leaf the agent re-signs, without a restart.
      await eventually(
        () => certs.current()!.rootsPem !== before.rootsPem && certs.current()!.certPem !== before.certPem,
        90_000,
        'the gateway leaf from the new root',
      );
      // A backend started now has a leaf from the new root; a new tag means a new channel, so a new handshake.
      await stack.addGreeter({ id: 'mtls-2', tags: ['rotated'], connect: true });
      await stack.setConfig({ greeterTag: 'rotated' });
      await eventually(async () => (await greet('Ada')).body.servedBy?.id === 'mtls-2', 10_000, 'a new connection to mtls-2');
    } finally {
      stop = true;
      await traffic;
    }
    assert.deepEqual(failures, []);
    assert.ok(ok > 10, `only ${ok} requests during the rotation`);
  });
});
