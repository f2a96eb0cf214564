// Issue 10 part 3 ("a registry that cannot be abused"): the name rule in one place, the use case's own
// check, and the registry's Consul policies, which must not reach services outside its own names.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { resolveConfig } from '../../../lib/config/resolve-config';
import { PolicyTemplateError, policyTemplate, registryPolicies, renderPolicy, type PolicyRef } from '../../../scripts/stack/acl-admin';
import { RegistryError } from '../../../lib/registry/errors';
import { registerInstance } from '../../../lib/registry/instance-registry';
import { createInstanceTokenSigner } from '../../../lib/registry/instance-token';
import { REGISTRY_KEYS } from '../../../lib/registry/registry-config';
import { hiddenCharacterProblem, serviceNameProblem } from '../../../lib/registry/service-names';
import { FakeConsul } from '../helpers/fake-consul';

describe('serviceNameProblem', () => {
  it('allows exact names first, then boundary prefixes minus leases and protected names', () => {
    const rule = { allowedServicePrefixes: ['ephemeral-'], allowedServices: ['greeter'], protectedServices: ['greeter'] };
    assert.equal(serviceNameProblem('greeter', rule), undefined);
    assert.equal(serviceNameProblem('ephemeral-job', rule), undefined);
    assert.match(serviceNameProblem('greeterx', rule) ?? '', /start with one of: ephemeral- or be one of: greeter/);
    assert.match(serviceNameProblem('ephemeral-job-lambda', rule) ?? '', /-lambda/);
  });

  it('ignores a prefix without its boundary and protects greeter when a hand-built rule names nothing', () => {
    assert.match(serviceNameProblem('greeter', { allowedServicePrefixes: ['greeter'] }) ?? '', /start with one of: \(none configured\)/);
    assert.match(serviceNameProblem('greeter-gateway-lambda', { allowedServicePrefixes: ['greeter-'] }) ?? '', /-lambda/);
  });
});

describe('registerInstance refuses protected names whoever calls it', () => {
  const deps = (raw: Record<string, string>) => ({
    consul: new FakeConsul(),
    signer: createInstanceTokenSigner(randomBytes(32)),
    config: resolveConfig(REGISTRY_KEYS, raw).values,
  });
  const reg = (service: string) => ({
    service,
    address: '10.1.2.3',
    port: 8080,
    tags: [],
    meta: {},
    ttlSeconds: 60,
    check: { type: 'ttl' as const },
  });

  it('refuses greeter and the gateway lease without writing to Consul, and registers greeter once named exactly', async () => {
    const d = deps({ allowedServicePrefixes: 'greeter-,ephemeral-' });
    for (const service of ['greeter', 'greeter-gateway-lambda']) {
      await assert.rejects(registerInstance(d, reg(service)), (e: unknown) => e instanceof RegistryError && e.kind === 'invalid_request');
    }
    assert.equal(d.consul.services.size, 0);
    const opened = deps({ allowedServices: 'greeter' });
    assert.match((await registerInstance(opened, reg('greeter'))).id, /^greeter-[0-9a-f]{16}$/);
  });
});

describe("registryPolicies: the token reaches only the registry's own names", () => {
  const rules = (refs: PolicyRef[]) =>
    refs
      .map((r) =>
        typeof r === 'string'
          ? renderPolicy(policyTemplate(r), { configPrefix: 'c/', leaseService: 'instance-registry-lambda' })
          : renderPolicy(policyTemplate(r.template), r.params),
      )
      .join('\n');

  it('refuses a prefix without its "-" boundary (it would grant service_prefix "greeter" write)', () => {
    assert.throws(
      () => registryPolicies(['ephemeral-', 'greeter']),
      (e: unknown) => e instanceof PolicyTemplateError && /"greeter" must end with "-"/.test(e.message),
    );
  });

  it('grants exact names as exact service rules, never as prefixes', () => {
    const text = rules(registryPolicies(['ephemeral-'], ['greeter']));
    assert.match(text, /service_prefix "ephemeral-" \{\s*policy = "write"/);
    assert.match(text, /service "greeter" \{\s*policy = "write"/);
    assert.doesNotMatch(text, /service_prefix "greeter/);
    assert.doesNotMatch(text, /service_prefix "" \{\s*policy = "write"/);
  });
});

describe('hiddenCharacterProblem', () => {
  it('finds invisible and reordering characters, naming the code point and its position', () => {
    assert.equal(hiddenCharacterProblem('plain text é 😀'), undefined);
    assert.match(hiddenCharacterProblem('ab\u202ecd') ?? '', /U\+202E at character 3/);
    assert.match(hiddenCharacterProblem('😀\u200b') ?? '', /U\+200B at character 2/, 'positions count characters, not UTF-16 units');
    assert.match(hiddenCharacterProblem('\u0007') ?? '', /U\+0007/);
  });

  it('never finds one in a valid service name, so names and tags share one rule', () => {
    for (const name of ['ephemeral-job', 'a', 'x1-2-3']) assert.equal(hiddenCharacterProblem(name), undefined);
  });
});
