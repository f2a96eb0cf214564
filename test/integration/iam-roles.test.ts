// Every function's IAM role, proven from the template that the real `serverless package` (osls) writes,
// with an IAM policy evaluator (@cloud-copilot/iam-simulate) rather than by matching strings: for each
// function, every SSM parameter of the stage it may read and every one it may not, and its other rights.
// Two packages of stage "prod": the defaults (no TLS), and every TLS and rotation parameter set (where
// healthSync must read its TLS parameters too). The deployer's policy is evaluated
// against the role names the same package creates.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveIntrinsics, type CfnValue } from '../../scripts/deploy/cfn-intrinsics';
import {
  decide,
  decideFor,
  functionRoles,
  ssmParameterArn,
  type CfnTemplate,
  type FunctionRole,
  type PolicyDocument,
} from '../../scripts/deploy/role-policies';
import { copyService, packageStage, type ServiceCopy } from '../../scripts/deploy/serverless-cli';

const STAGE = 'prod';
const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const STACK = `consul-grpc-lambda-${STAGE}`;
const NAMESPACE = 'consul-grpc-lambda-prod';
const NAMESPACE_ID = 'ns-0123456789abcdef';
const P = `/consul-grpc-lambda/${STAGE}`;
const stackValues = { region: REGION, accountId: ACCOUNT, stackName: STACK };

// Every SSM parameter a deployment of the stage may hold, by a short name.
const PARAMS = {
  gatewayToken: `${P}/consul-token/greeter-gateway`,
  registryToken: `${P}/consul-token/instance-registry`,
  healthSyncToken: `${P}/consul-token/health-sync`,
  rpcToken: `${P}/consul-token/rpc-gateway`,
  signingKey: `${P}/registry-signing-key`,
  previousSigningKey: `${P}/registry-signing-key-previous`,
  consulCa: `${P}/tls/consul-ca`,
  clientCert: `${P}/tls/consul-client-cert`,
  clientKey: `${P}/tls/consul-client-key`,
  greeterCa: `${P}/tls/greeter-ca`,
  // Not ours, but in reach of a prefix wildcard: another stage's token, an unrelated parameter.
  otherStageToken: '/consul-grpc-lambda/dev/consul-token/greeter-gateway',
  unrelated: `${P}/anything-else`,
};
type Param = keyof typeof PARAMS;
const TLS_PARAMS = {
  consulCaCertParameter: PARAMS.consulCa,
  consulClientCertParameter: PARAMS.clientCert,
  consulClientKeyParameter: PARAMS.clientKey,
  greeterCaCertParameter: PARAMS.greeterCa,
  registrySigningKeyPreviousParameter: PARAMS.previousSigningKey,
};

// What each function reads (lib/runtime/function-runtime.ts: its token and, over https, the Consul TLS
// PEMs; lib/config/backend-ca.ts: greet and rpc; lib/registry/registry-runtime.ts: the signing keys).
const CONSUL_TLS: Param[] = ['consulCa', 'clientCert', 'clientKey'];
const READS: Record<string, { plain: Param[]; tls: Param[] }> = {
  greet: { plain: ['gatewayToken'], tls: ['gatewayToken', ...CONSUL_TLS, 'greeterCa'] },
  status: { plain: ['gatewayToken'], tls: ['gatewayToken', ...CONSUL_TLS] },
  instances: { plain: ['registryToken', 'signingKey'], tls: ['registryToken', 'signingKey', 'previousSigningKey', ...CONSUL_TLS] },
  healthSync: { plain: ['healthSyncToken'], tls: ['healthSyncToken', ...CONSUL_TLS] },
  rpc: { plain: ['rpcToken'], tls: ['rpcToken', ...CONSUL_TLS, 'greeterCa'] },
};

type Template = CfnTemplate & { Resources: Record<string, { Type: string; Properties: Record<string, CfnValue> }> };
let copy: ServiceCopy | undefined;
const dirs: string[] = [];
const packaged: Record<'plain' | 'tls', { template: Template; roles: Map<string, FunctionRole> }> = {} as never;

async function pack(params: Record<string, string>): Promise<{ template: Template; roles: Map<string, FunctionRole> }> {
  const out = mkdtempSync(join(tmpdir(), 'cgl-iam-roles-'));
  dirs.push(out);
  await packageStage(copy!, { stage: STAGE, region: REGION, params }, out);
  const template = JSON.parse(readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8')) as Template;
  return { template, roles: new Map(functionRoles(template, stackValues).map((r) => [r.fn, r])) };
}

before(async () => {
  copy = copyService();
  // Sequential: two esbuild runs at once on a 2-core machine only slow each other down.
  packaged.plain = await pack({ cloudMapNamespaceId: NAMESPACE_ID });
  packaged.tls = await pack({
    cloudMapNamespaceId: NAMESPACE_ID,
    discoveryFallback: 'cloudmap',
    cloudMapNamespace: NAMESPACE,
    ...TLS_PARAMS,
  });
});

after(() => {
  copy?.remove();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const getParameter = (name: string) => ({ action: 'ssm:GetParameter', resource: ssmParameterArn(stackValues, name) });

describe('per-function IAM roles, from the packaged template (stage prod)', { timeout: 300_000 }, () => {
  it('gives each function a role of its own, trusted by Lambda only, with no shared role left', () => {
    for (const variant of ['plain', 'tls'] as const) {
      const { template, roles } = packaged[variant];
      assert.deepEqual([...roles.keys()].sort(), Object.keys(READS).sort(), variant);
      assert.equal(new Set([...roles.values()].map((r) => r.roleArn)).size, roles.size, `${variant}: one distinct role per function`);
      assert.equal(template.Resources.IamRoleLambdaExecution, undefined, 'the framework made no shared role');
      for (const r of roles.values()) {
        assert.equal(r.roleArn, `arn:aws:iam::${ACCOUNT}:role/consul-grpc-lambda-${STAGE}-${REGION}-${r.fn}`);
        const trust = resolveIntrinsics(template.Resources[r.roleLogicalId].Properties.AssumeRolePolicyDocument, stackValues);
        assert.deepEqual(
          trust,
          {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
          },
          r.fn,
        );
        assert.deepEqual(
          r.managedPolicyArns,
          ['arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole'],
          `${r.fn}: logs and VPC interfaces only`,
        );
      }
    }
  });

  for (const variant of ['plain', 'tls'] as const) {
    it(`${variant === 'plain' ? 'without TLS' : 'with every TLS and rotation parameter set'}: each function may read exactly its own SSM parameters, and none of the others`, async () => {
      const table: string[] = [];
      for (const [fn, reads] of Object.entries(READS)) {
        const role = packaged[variant].roles.get(fn)!;
        const may = reads[variant];
        const got: Param[] = [];
        for (const p of Object.keys(PARAMS) as Param[])
          if ((await decideFor(role, ACCOUNT, getParameter(PARAMS[p]))) === 'Allowed') got.push(p);
        table.push(`${fn}: ${got.join(', ')}`);
        assert.deepEqual(got.sort(), [...may].sort(), `${fn} (${variant}) may read exactly these`);
      }
      console.log(`readable SSM parameters (${variant}):\n  ${table.join('\n  ')}`);
    });
  }

  it('greet, the public function, can read neither the registry signing key nor any other function token', async () => {
    const greet = packaged.tls.roles.get('greet')!;
    for (const p of ['signingKey', 'previousSigningKey', 'registryToken', 'healthSyncToken'] as const)
      assert.equal(await decideFor(greet, ACCOUNT, getParameter(PARAMS[p])), 'ImplicitlyDenied', p);
  });

  it('no role may list, batch-read, write or delete parameters (only ssm:GetParameter on exact names)', async () => {
    for (const role of packaged.tls.roles.values()) {
      for (const action of ['ssm:GetParameters', 'ssm:GetParameterHistory', 'ssm:PutParameter', 'ssm:DeleteParameter'])
        assert.equal(
          await decideFor(role, ACCOUNT, { action, resource: ssmParameterArn(stackValues, PARAMS.gatewayToken) }),
          'ImplicitlyDenied',
          `${role.fn} ${action}`,
        );
      assert.equal(
        await decideFor(role, ACCOUNT, { action: 'ssm:GetParametersByPath', resource: ssmParameterArn(stackValues, P) }),
        'ImplicitlyDenied',
        `${role.fn} GetParametersByPath`,
      );
      // The same name in another region or account is another parameter.
      const own = READS[role.fn].tls[0];
      assert.equal(
        await decideFor(role, ACCOUNT, {
          action: 'ssm:GetParameter',
          resource: ssmParameterArn({ region: 'us-east-1', accountId: ACCOUNT }, PARAMS[own]),
        }),
        'ImplicitlyDenied',
        `${role.fn}: other region`,
      );
    }
  });

  it('greet, status and rpc may DiscoverInstances in the mirror namespace only; without cloudMapNamespace in none', async () => {
    const discover = (ns: string) => ({
      action: 'servicediscovery:DiscoverInstances',
      resource: '*',
      context: { 'servicediscovery:NamespaceName': ns },
    });
    for (const fn of ['greet', 'status', 'rpc']) {
      const role = packaged.tls.roles.get(fn)!;
      assert.equal(await decideFor(role, ACCOUNT, discover(NAMESPACE)), 'Allowed', fn);
      assert.equal(await decideFor(role, ACCOUNT, discover('another-namespace')), 'ImplicitlyDenied', fn);
      assert.equal(
        await decideFor(packaged.plain.roles.get(fn)!, ACCOUNT, discover(NAMESPACE)),
        'ImplicitlyDenied',
        `${fn} without cloudMapNamespace`,
      );
    }
    for (const fn of ['instances', 'healthSync'])
      assert.equal(await decideFor(packaged.tls.roles.get(fn)!, ACCOUNT, discover(NAMESPACE)), 'ImplicitlyDenied', fn);
  });

  it('only healthSync may write Cloud Map: services only in its namespace, instances only in services of its account and region', async () => {
    const nsArn = (id: string) => `arn:aws:servicediscovery:${REGION}:${ACCOUNT}:namespace/${id}`;
    const serviceArn = (region: string, account: string) => `arn:aws:servicediscovery:${region}:${account}:service/srv-0123456789abcdef`;
    const create = (id: string) => ({
      action: 'servicediscovery:CreateService',
      resource: '*',
      context: { 'servicediscovery:NamespaceArn': nsArn(id) },
    });
    const instanceActions = [
      'RegisterInstance',
      'DeregisterInstance',
      'UpdateInstanceCustomHealthStatus',
      'ListInstances',
      'GetInstancesHealthStatus',
      'GetService',
    ].map((a) => `servicediscovery:${a}`);
    const hs = packaged.tls.roles.get('healthSync')!;
    assert.equal(await decideFor(hs, ACCOUNT, create(NAMESPACE_ID)), 'Allowed');
    assert.equal(await decideFor(hs, ACCOUNT, create('ns-ffffffffffffffff')), 'ImplicitlyDenied');
    // What AWS sends for these (servicediscovery:ServiceArn); the namespace key does not exist for them,
    // which is why the role must not condition them on it (it did, and that denied every call).
    for (const action of instanceActions) {
      const context = { 'servicediscovery:ServiceArn': serviceArn(REGION, ACCOUNT) };
      assert.equal(await decideFor(hs, ACCOUNT, { action, resource: serviceArn(REGION, ACCOUNT), context }), 'Allowed', action);
      assert.equal(
        await decideFor(hs, ACCOUNT, { action, resource: serviceArn('us-east-1', ACCOUNT) }),
        'ImplicitlyDenied',
        `${action} in another region`,
      );
    }
    const destructive = [
      { action: 'servicediscovery:DeleteNamespace', resource: nsArn(NAMESPACE_ID) },
      { action: 'servicediscovery:DeleteService', resource: serviceArn(REGION, ACCOUNT) },
      { action: 'servicediscovery:CreateHttpNamespace', resource: '*' },
    ];
    for (const req of destructive) assert.equal(await decideFor(hs, ACCOUNT, req), 'ImplicitlyDenied', req.action);
    for (const fn of ['greet', 'status', 'instances', 'rpc']) {
      const role = packaged.tls.roles.get(fn)!;
      assert.equal(await decideFor(role, ACCOUNT, create(NAMESPACE_ID)), 'ImplicitlyDenied', fn);
      for (const action of instanceActions)
        assert.equal(
          await decideFor(role, ACCOUNT, { action, resource: serviceArn(REGION, ACCOUNT) }),
          'ImplicitlyDenied',
          `${fn} ${action}`,
        );
    }
  });

  it('grants no action beyond these: the full action list of every role', () => {
    const want: Record<string, string[]> = {
      greet: ['servicediscovery:DiscoverInstances', 'ssm:GetParameter'],
      status: ['servicediscovery:DiscoverInstances', 'ssm:GetParameter'],
      instances: ['ssm:GetParameter'],
      rpc: ['servicediscovery:DiscoverInstances', 'ssm:GetParameter'],
      healthSync: [
        'servicediscovery:CreateService',
        'servicediscovery:DeregisterInstance',
        'servicediscovery:GetInstancesHealthStatus',
        'servicediscovery:GetOperation',
        'servicediscovery:GetService',
        'servicediscovery:ListInstances',
        'servicediscovery:ListServices',
        'servicediscovery:RegisterInstance',
        'servicediscovery:UpdateInstanceCustomHealthStatus',
        'ssm:GetParameter',
      ],
    };
    for (const role of packaged.tls.roles.values()) {
      const statements = role.inline.flatMap((p) => p.document.Statement);
      assert.ok(
        statements.every((s) => s.Effect === 'Allow' && !('NotAction' in s) && !('NotResource' in s)),
        `${role.fn}: Allow statements with Action and Resource only`,
      );
      const actions = [...new Set(statements.flatMap((s) => [s.Action as string | string[]].flat()))].sort();
      assert.deepEqual(actions, want[role.fn], role.fn);
    }
  });
});

describe('the deployer policy (scripts/deploy/deployer-policy.json) against the packaged roles', { timeout: 120_000 }, () => {
  const deployer = () => {
    const raw = JSON.parse(readFileSync(join(__dirname, '..', '..', 'scripts', 'deploy', 'deployer-policy.json'), 'utf8')) as {
      Resources: { DeployerPolicy: { Properties: { PolicyDocument: CfnValue } } };
    };
    const document = resolveIntrinsics(raw.Resources.DeployerPolicy.Properties.PolicyDocument, {
      ...stackValues,
      refs: { Stage: STAGE },
    }) as unknown as PolicyDocument;
    return [{ name: 'deployer', document }];
  };
  const who = `arn:aws:iam::${ACCOUNT}:role/deployer`;
  const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
  const vpcPolicy = 'arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole';

  it('may create, write and pass to Lambda exactly the roles the package creates', async () => {
    const policy = deployer();
    for (const r of packaged.tls.roles.values()) {
      for (const action of ['iam:CreateRole', 'iam:PutRolePolicy', 'iam:DeleteRole', 'iam:TagRole'])
        assert.equal(await decide(policy, who, ACCOUNT, { action, resource: r.roleArn }), 'Allowed', `${action} ${r.fn}`);
      assert.equal(
        await decide(policy, who, ACCOUNT, {
          action: 'iam:AttachRolePolicy',
          resource: r.roleArn,
          context: { 'iam:PolicyARN': vpcPolicy },
        }),
        'Allowed',
        `attach the VPC policy to ${r.fn}`,
      );
      assert.equal(
        await decide(policy, who, ACCOUNT, {
          action: 'iam:AttachRolePolicy',
          resource: r.roleArn,
          context: { 'iam:PolicyARN': 'arn:aws:iam::aws:policy/AdministratorAccess' },
        }),
        'ImplicitlyDenied',
        `attach another policy to ${r.fn}`,
      );
      assert.equal(
        await decide(policy, who, ACCOUNT, {
          action: 'iam:PassRole',
          resource: r.roleArn,
          context: { 'iam:PassedToService': 'lambda.amazonaws.com' },
        }),
        'Allowed',
        `pass ${r.fn} to Lambda`,
      );
      assert.equal(
        await decide(policy, who, ACCOUNT, {
          action: 'iam:PassRole',
          resource: r.roleArn,
          context: { 'iam:PassedToService': 'ec2.amazonaws.com' },
        }),
        'ImplicitlyDenied',
        `pass ${r.fn} to EC2`,
      );
    }
  });

  it('may not create or pass any other role, but may remove the roles of earlier versions of the stage', async () => {
    const policy = deployer();
    const others = [`consul-grpc-lambda-${STAGE}-${REGION}-admin`, `consul-grpc-lambda-dev-${REGION}-greet`, 'some-other-role'];
    for (const name of others) {
      assert.equal(
        await decide(policy, who, ACCOUNT, { action: 'iam:CreateRole', resource: roleArn(name) }),
        'ImplicitlyDenied',
        `create ${name}`,
      );
      assert.equal(
        await decide(policy, who, ACCOUNT, { action: 'iam:PutRolePolicy', resource: roleArn(name) }),
        'ImplicitlyDenied',
        `write ${name}`,
      );
      assert.equal(
        await decide(policy, who, ACCOUNT, {
          action: 'iam:PassRole',
          resource: roleArn(name),
          context: { 'iam:PassedToService': 'lambda.amazonaws.com' },
        }),
        'ImplicitlyDenied',
        `pass ${name}`,
      );
    }
    // The shared role of the framework and the generated health-sync role name of the previous layout.
    for (const name of [`consul-grpc-lambda-${STAGE}-${REGION}-lambdaRole`, `consul-grpc-lambda-${STAGE}-HealthSyncRole-ABCDEF123456`]) {
      for (const action of ['iam:DeleteRolePolicy', 'iam:DeleteRole'])
        assert.equal(await decide(policy, who, ACCOUNT, { action, resource: roleArn(name) }), 'Allowed', `${action} ${name}`);
      assert.equal(
        await decide(policy, who, ACCOUNT, {
          action: 'iam:DetachRolePolicy',
          resource: roleArn(name),
          context: { 'iam:PolicyARN': vpcPolicy },
        }),
        'Allowed',
        `detach from ${name}`,
      );
    }
    assert.equal(
      await decide(policy, who, ACCOUNT, { action: 'iam:DeleteRole', resource: roleArn(`consul-grpc-lambda-dev-${REGION}-greet`) }),
      'ImplicitlyDenied',
      'another stage',
    );
  });
});

describe('the deployed default Consul address (param consulHttpAddr)', () => {
  const addressOf = (variant: 'plain' | 'tls') => {
    const fns = Object.values(packaged[variant].template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    return [...new Set(fns.map((f) => (f.Properties.Environment as { Variables: Record<string, string> }).Variables.CONSUL_HTTP_ADDR))];
  };

  it('is http on 8500 when no TLS parameter is given', () => {
    assert.deepEqual(addressOf('plain'), ['http://consul.service.internal:8500']);
  });

  it('is https on 8501 as soon as a Consul TLS parameter is given, in every function', () => {
    assert.deepEqual(addressOf('tls'), ['https://consul.service.internal:8501']);
  });
});
