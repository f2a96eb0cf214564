// The registry runtime resolves its instance-token signer once per environment, and tries again after a
// failure instead of keeping it. Keys come from the environment here (REGISTRY_SIGNING_KEY); no Consul is needed.
import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import { ConfigError } from '../../../lib/config/errors';
import { createLogger } from '../../../lib/log/logger';
import { createRegistryRuntime, type RegistryRuntime } from '../../../lib/registry/registry-runtime';

const saved = { ...process.env };
const built: RegistryRuntime[] = [];
afterEach(() => {
  for (const rt of built.splice(0)) rt.close();
});
after(() => {
  process.env = saved;
});

function runtime(): RegistryRuntime {
  const rt = createRegistryRuntime(createLogger());
  built.push(rt);
  return rt;
}

describe('registry runtime', () => {
  it('resolves the signer once and hands the same one to every invocation', async () => {
    process.env.REGISTRY_SIGNING_KEY = 'a'.repeat(48);
    const rt = runtime();
    const signer = await rt.signer();
    process.env.REGISTRY_SIGNING_KEY = 'b'.repeat(48);
    assert.equal(await rt.signer(), signer);
    assert.ok(signer.verify(signer.sign('id-1', 'ephemeral-job'), 'id-1', 'ephemeral-job'));
  });

  it('does not keep a failed resolution: a fixed key works on the next call', async () => {
    process.env.REGISTRY_SIGNING_KEY = 'short';
    const rt = runtime();
    await assert.rejects(rt.signer(), ConfigError);
    process.env.REGISTRY_SIGNING_KEY = 'c'.repeat(48);
    const signer = await rt.signer();
    assert.ok(signer.verify(signer.sign('id-2', 'ephemeral-job'), 'id-2', 'ephemeral-job'));
  });
});
