import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConsulApi } from '../../../lib/consul/consul-api';
import { registryPolicies } from '../../../scripts/stack/acl-admin';
import { agentToken, backendToken, gatewayToken, healthSyncToken, registryToken } from '../../../scripts/stack/tokens';

/** An ACL endpoint that keeps the policies written and the tokens made (what Consul would store). */
function recordingAdmin() {
  const policies = new Map<string, string>();
  const tokens: string[][] = [];
  const admin = {
    request: async (_op: string, _opts: unknown, req: { method: string; path: string; body?: unknown }) => {
      if (req.path === '/acl/policies') return [];
      const body = req.body as { Name?: string; Rules?: string; Policies?: { Name: string }[] };
      if (req.path.startsWith('/acl/policy')) {
        policies.set(body.Name ?? '', body.Rules ?? '');
        return { ID: `id-${body.Name}` };
      }
      tokens.push((body.Policies ?? []).map((p) => p.Name));
      return { SecretID: `secret-${tokens.length}` };
    },
  } as unknown as ConsulApi;
  return { admin, policies, tokens };
}

describe('stack tokens', () => {
  it('give the gateway the lease policy of its mode, and none for a read-only token', async () => {
    const r = recordingAdmin();
    for (const lease of ['agent', 'session', 'both', 'none'] as const) await gatewayToken(r.admin, { configPrefix: 'config/g/', lease });
    assert.deepEqual(r.tokens, [
      ['greeter-gateway', 'greeter-gateway-lease'],
      ['greeter-gateway', 'greeter-gateway-lease-session'],
      ['greeter-gateway', 'greeter-gateway-lease', 'greeter-gateway-lease-session'],
      ['greeter-gateway'],
    ]);
    assert.match(r.policies.get('greeter-gateway') ?? '', /key_prefix "config\/g\/"/);
    assert.match(r.policies.get('greeter-gateway-lease') ?? '', /service "greeter-gateway-lambda"/);
    assert.match(r.policies.get('greeter-gateway-lease-session') ?? '', /key_prefix "lambda-leases\/greeter-gateway-lambda\/"/);
  });

  it('fill each job token with its own config prefix and lease service', async () => {
    const r = recordingAdmin();
    await registryToken(r.admin, 'config/r/', registryPolicies(['ephemeral-'], ['greeter']));
    await healthSyncToken(r.admin, 'config/h/');
    assert.match(r.policies.get('instance-registry') ?? '', /config\/r\//);
    assert.match(r.policies.get('instance-registry') ?? '', /instance-registry-lambda/);
    assert.ok(r.policies.has('instance-registry-service-greeter'));
    assert.match(r.policies.get('health-sync') ?? '', /config\/h\//);
    assert.match(r.policies.get('health-sync') ?? '', /health-sync-lambda/);
  });

  it('scope a backend token to its service and an agent token to its node', async () => {
    const r = recordingAdmin();
    await backendToken(r.admin, 'echo');
    await agentToken(r.admin, 'client-1');
    assert.match(r.policies.get('greeter-backend') ?? '', /service "echo" \{\s*policy = "write"/);
    assert.match(r.policies.get('consul-agent-client-1') ?? '', /node "client-1" \{\s*policy = "write"/);
  });
});
