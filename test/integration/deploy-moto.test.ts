// The real deploy path: `serverless package` + `serverless deploy --package` + `serverless remove`
// with the real CLI (osls) into moto, then the deployed resources read back with the AWS SDK.
// Where moto cannot show a property (its known gaps), a test named "moto gap — …" checks the packaged
// template instead and says why.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { APIGatewayClient, GetResourcesCommand, GetRestApisCommand, GetStagesCommand } from '@aws-sdk/client-api-gateway';
import {
  CloudFormationClient,
  DescribeStackEventsCommand,
  DescribeStackResourceCommand,
  DescribeStacksCommand,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import { EventBridgeClient, ListRulesCommand, ListTargetsByRuleCommand } from '@aws-sdk/client-eventbridge';
import {
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
} from '@aws-sdk/client-iam';
import {
  GetFunctionConfigurationCommand,
  GetPolicyCommand,
  LambdaClient,
  ListFunctionsCommand,
  type FunctionConfiguration,
} from '@aws-sdk/client-lambda';
import { judge, loadAllowList, runCfnLint, TEMPLATES } from '../../scripts/deploy/cfn-lint';
import { startDeployMoto, type DeployMoto } from '../../scripts/deploy/moto-for-deploy';
import { deployPackage, ensureNamespace, motoClientConfig, removeStage, stackName } from '../../scripts/deploy/rehearsal';
import { copyService, packageStage, type ServiceCopy, type StageSpec } from '../../scripts/deploy/serverless-cli';
import { RUNTIME_NODE_VERSION, runtimeNodeCommand } from '../../scripts/rie/runtime-node';
import { extractZip } from '../../scripts/rie/zip';

const REGION = 'eu-west-1';
const STAGE = 'ci';
const STACK = stackName(STAGE);
const CONSUL_ADDR = 'consul.ci.internal:8500';
const PREFIX = `/consul-grpc-lambda/${STAGE}`;
// Values the CLI finds in its environment. Stage "local" would put them into the functions; a
// deployed stage must not put them anywhere.
const SECRETS = {
  GREETER_GATEWAY_CONSUL_TOKEN: `gw-${randomBytes(8).toString('hex')}`,
  INSTANCE_REGISTRY_CONSUL_TOKEN: `ir-${randomBytes(8).toString('hex')}`,
  HEALTH_SYNC_CONSUL_TOKEN: `hs-${randomBytes(8).toString('hex')}`,
  REGISTRY_SIGNING_KEY: `sk-${randomBytes(16).toString('hex')}`,
  REGISTRY_API_KEY: `ak-${randomBytes(8).toString('hex')}`,
};
const CLI_ENV = { ...SECRETS, LOG_LEVEL: undefined };

// What serverless.yml means, written out: handler, timeout, role and environment of each function.
// TLS is off by default: its variables are present and empty (the same as unset to the functions).
// The Greeter CA is greet's alone: no other function calls a Greeter.
const TLS_ENV = Object.fromEntries(
  [
    'CONSUL_CACERT',
    'CONSUL_CLIENT_CERT',
    'CONSUL_CLIENT_KEY',
    'CONSUL_CACERT_PARAMETER',
    'CONSUL_CLIENT_CERT_PARAMETER',
    'CONSUL_CLIENT_KEY_PARAMETER',
    'CONSUL_TLS_SERVER_NAME',
  ].map((k) => [k, '']),
);
const COMMON_ENV = {
  CONSUL_HTTP_ADDR: CONSUL_ADDR,
  POWERTOOLS_LOG_LEVEL: 'INFO',
  POWERTOOLS_METRICS_NAMESPACE: 'consul-grpc-lambda',
  ...TLS_ENV,
  CONSUL_HTTP_TOKEN: '',
};
const NAMESPACE = `consul-grpc-lambda-${STAGE}`;
// Discovery through Consul with the Cloud Map mirror as fallback; the unused settings present and empty.
const DISCOVERY_ENV = {
  DISCOVERY_SOURCE: '',
  DISCOVERY_FALLBACK: 'cloudmap',
  CONSUL_DNS_ADDR: '',
  CLOUDMAP_NAMESPACE: NAMESPACE,
  CLOUDMAP_REGION: '',
  CLOUDMAP_POLL_SECONDS: '',
  CLOUDMAP_DATACENTER: '',
  CLOUDMAP_ENDPOINT: '',
};
const gatewayEnv = (service: string) => ({
  ...DISCOVERY_ENV,
  POWERTOOLS_SERVICE_NAME: service,
  CONFIG_PREFIX: `config/greeter-gateway/${STAGE}/`,
  CONSUL_HTTP_TOKEN_PARAMETER: `${PREFIX}/consul-token/greeter-gateway`,
});
const FUNCTIONS: Record<string, { handler: string; timeout: number; env: Record<string, string> }> = {
  greet: {
    handler: 'functions/greet.handler',
    timeout: 10,
    env: { ...gatewayEnv('greet'), GREETER_CACERT: '', GREETER_CACERT_PARAMETER: '' },
  },
  status: { handler: 'functions/status.handler', timeout: 10, env: gatewayEnv('status') },
  instances: {
    handler: 'functions/instances.handler',
    timeout: 10,
    env: {
      POWERTOOLS_SERVICE_NAME: 'instances',
      CONFIG_PREFIX: `config/instance-registry/${STAGE}/`,
      CONSUL_HTTP_TOKEN_PARAMETER: `${PREFIX}/consul-token/instance-registry`,
      REGISTRY_SIGNING_KEY: '',
      REGISTRY_SIGNING_KEY_PARAMETER: `${PREFIX}/registry-signing-key`,
      REGISTRY_SIGNING_KEY_PREVIOUS_PARAMETER: '',
    },
  },
  rpc: {
    handler: 'functions/rpc.handler',
    timeout: 10,
    env: {
      ...DISCOVERY_ENV,
      POWERTOOLS_SERVICE_NAME: 'rpc',
      CONFIG_PREFIX: `config/rpc-gateway/${STAGE}/`,
      CONSUL_HTTP_TOKEN_PARAMETER: `${PREFIX}/consul-token/rpc-gateway`,
      GREETER_CACERT: '',
      GREETER_CACERT_PARAMETER: '',
    },
  },
  healthSync: {
    handler: 'functions/health-sync.handler',
    timeout: 90,
    env: {
      POWERTOOLS_SERVICE_NAME: 'health-sync',
      CONFIG_PREFIX: `config/health-sync/${STAGE}/`,
      CONSUL_HTTP_TOKEN_PARAMETER: `${PREFIX}/consul-token/health-sync`,
    },
  },
};
const REST_METHODS = [
  'DELETE /instances/{id} → instances',
  'GET /instances → instances',
  'GET /status → status',
  'POST /instances → instances',
  'PUT /instances/{id}/heartbeat → instances',
];

type Template = {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown>; DependsOn?: unknown; Condition?: string }>;
  Outputs?: Record<string, unknown>;
  Parameters?: Record<string, { Default?: string }>;
  Conditions?: Record<string, unknown>;
};
const ALARM_TOPIC = `arn:aws:sns:${REGION}:000000000000:consul-grpc-lambda-${STAGE}-alarms`;
const ALARMS = [
  'greet-error-rate',
  'rpc-failure-rate',
  'lease-failures',
  'health-sync-failures',
  'health-sync-skipped',
  'consul-errors',
  'consul-throttled',
].map((a) => `consul-grpc-lambda-${STAGE}-${a}`);

/** moto's CloudWatch query API (no CloudWatch SDK client among the dev dependencies); moto routes by the credential scope. */
async function cloudWatch(action: string, params: Record<string, string> = {}): Promise<string> {
  const res = await fetch(moto!.endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `AWS4-HMAC-SHA256 Credential=testing/20240101/${REGION}/monitoring/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: new URLSearchParams({ Action: action, Version: '2010-08-01', ...params }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `${action}: ${text.slice(0, 300)}`);
  return text;
}
type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource: string | string[]; Condition?: unknown };

let moto: DeployMoto | undefined;
let copy: ServiceCopy | undefined;
const dirs: string[] = [];
let spec: StageSpec;
let pkg: string;
let template: Template;
let namespaceId: string;
let account: string;
let cfn: CloudFormationClient, lambda: LambdaClient, iam: IAMClient, events: EventBridgeClient, apigw: APIGatewayClient;
const configs = new Map<string, FunctionConfiguration>();
const timings: string[] = [];

async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const t = Date.now();
  try {
    return await fn();
  } finally {
    timings.push(`${what} ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
}

function tempDir(tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `cgl-deploy-test-${tag}-`));
  dirs.push(d);
  return d;
}

const readTemplate = (dir: string) => JSON.parse(readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8')) as Template;
const arr = (v: string | string[]) => (Array.isArray(v) ? v : [v]);
const fnName = (key: string) => `${STACK}-${key}`;

async function stack(): Promise<Stack> {
  const s = (await cfn.send(new DescribeStacksCommand({ StackName: STACK }))).Stacks?.[0];
  assert.ok(s, `stack ${STACK} exists`);
  return s;
}

/**
 * An inline role policy as moto returns it. AWS returns URL-encoded JSON; moto returns policies that
 * CloudFormation created as a Python dict repr (single quotes), a moto quirk we undo here.
 */
function policyDocument(raw: string): { Statement: Statement[] } {
  const text = raw.startsWith('%7B') ? decodeURIComponent(raw) : raw;
  try {
    return JSON.parse(text) as { Statement: Statement[] };
  } catch {
    return JSON.parse(
      text
        .replaceAll("'", '"')
        .replace(/\bTrue\b/g, 'true')
        .replace(/\bFalse\b/g, 'false'),
    ) as { Statement: Statement[] };
  }
}

async function roleStatements(roleArn: string): Promise<{ name: string; policies: string[]; statements: Statement[] }> {
  const name = roleArn.split('/').pop() ?? '';
  const policies = (await iam.send(new ListRolePoliciesCommand({ RoleName: name }))).PolicyNames ?? [];
  const statements: Statement[] = [];
  for (const p of policies) {
    const doc = (await iam.send(new GetRolePolicyCommand({ RoleName: name, PolicyName: p }))).PolicyDocument ?? '{}';
    statements.push(...policyDocument(doc).Statement);
  }
  return { name, policies, statements };
}

before(async () => {
  moto = await timed('moto start', () => startDeployMoto());
  const cfg = motoClientConfig(moto.endpoint, REGION);
  [cfn, lambda, iam, events, apigw] = [
    new CloudFormationClient(cfg),
    new LambdaClient(cfg),
    new IAMClient(cfg),
    new EventBridgeClient(cfg),
    new APIGatewayClient(cfg),
  ];
  // A real namespace in moto's Cloud Map: the health-sync role's conditions must name it.
  namespaceId = await ensureNamespace(moto.endpoint, REGION, NAMESPACE);
  spec = {
    stage: STAGE,
    region: REGION,
    params: {
      consulHttpAddr: CONSUL_ADDR,
      cloudMapNamespaceId: namespaceId,
      discoveryFallback: 'cloudmap',
      cloudMapNamespace: NAMESPACE,
      alarms: 'true',
      alarmTopicArn: ALARM_TOPIC,
    },
  };
  copy = copyService();
  pkg = tempDir('pkg');
  await timed('package', () => packageStage(copy!, spec, pkg, { env: CLI_ENV }));
  template = readTemplate(pkg);
  await timed('first deploy', () => deployPackage(copy!, spec, pkg, moto!.endpoint));
  for (const key of Object.keys(FUNCTIONS))
    configs.set(key, await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: fnName(key) })));
  account = (configs.get('greet')?.FunctionArn ?? '').split(':')[4];
});

after(async () => {
  for (const c of [cfn, lambda, iam, events, apigw]) c?.destroy();
  await moto?.stop();
  copy?.remove();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  console.log(`deploy-moto timings: ${timings.join(', ')}`);
});

describe('serverless deploy into moto (stage ci)', { timeout: 180_000 }, () => {
  it('creates the stack: CREATE_COMPLETE or UPDATE_COMPLETE, every resource moto implements complete', async () => {
    const s = await stack();
    assert.match(s.StackStatus ?? '', /^(CREATE|UPDATE)_COMPLETE$/);
    const ev = (await cfn.send(new DescribeStackEventsCommand({ StackName: STACK }))).StackEvents ?? [];
    assert.deepEqual(
      ev.filter((e) => /FAILED/.test(e.ResourceStatus ?? '')),
      [],
    );
  });

  it('ships each function a V8 code cache made for arm64, its Lambda architecture, which arm64 Node started as Lambda starts it takes', (t) => {
    // This machine runs arm64 Node natively or under qemu (scripts/rie/runtime-node.ts); where it cannot,
    // the package holds no cache and the package step said so.
    const arm64 = runtimeNodeCommand('arm64');
    if (!arm64) return t.skip(`this ${process.arch} machine cannot run arm64 Node`);
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- shared with the esbuild plugins, which are CommonJS
    const { lambdaNodeArgs } = require('../../scripts/esbuild/lambda-node.cjs') as { lambdaNodeArgs: (memoryMb: number) => string[] };
    for (const [key, want] of Object.entries(FUNCTIONS)) {
      const dir = tempDir(`unzip-${key}`);
      const files = extractZip(join(pkg, `${key}.zip`), dir);
      const base = want.handler.slice(0, want.handler.lastIndexOf('.'));
      assert.deepEqual(
        files.sort(),
        [`${base}.bundle.cjs`, `${base}.bundle.cjs.code-cache`, `${base}.mjs`],
        `${key}: bundle, cache and loader`,
      );
      const raw = readFileSync(join(dir, `${base}.bundle.cjs.code-cache`));
      const head = JSON.parse(raw.subarray(0, raw.indexOf(10)).toString('utf8')) as { arch: string; node: string };
      assert.deepEqual([head.arch, head.node], ['arm64', `v${RUNTIME_NODE_VERSION}`], `${key}: made by arm64 Node ${RUNTIME_NODE_VERSION}`);
      const [command, ...prefix]: string[] = arm64;
      const url = JSON.stringify(pathToFileURL(join(dir, `${base}.mjs`)).href);
      const status: string = execFileSync(
        command as string,
        [
          ...prefix,
          ...lambdaNodeArgs(key === 'healthSync' ? 256 : 128),
          '--input-type=module',
          '-e',
          `process.stdout.write((await import(${url})).codeCacheStatus)`,
        ],
        { cwd: dir, env: { PATH: process.env.PATH }, timeout: 120_000 },
      ).toString();
      assert.equal(status, 'used', `${key}: arm64 Node takes its cache`);
    }
  });

  it('packages templates that cfn-lint passes: no error, and only the allow-listed warnings', async () => {
    const v = judge(
      await runCfnLint(
        TEMPLATES.map((t) => join(pkg, t)),
        REGION,
      ),
      loadAllowList(),
    );
    assert.deepEqual(v.errors, []);
    assert.deepEqual(v.unlisted, []);
  });

  it('deploys the 4 functions with the handler, runtime, memory, timeout and environment of serverless.yml', () => {
    const deployed = [...configs.values()].map((c) => c.FunctionName).sort();
    assert.deepEqual(deployed, Object.keys(FUNCTIONS).map(fnName).sort());
    for (const [key, want] of Object.entries(FUNCTIONS)) {
      const c = configs.get(key)!;
      assert.equal(c.Handler, want.handler, key);
      assert.equal(c.Runtime, 'nodejs22.x', key);
      assert.equal(c.MemorySize, key === 'healthSync' ? 256 : 128, key);
      assert.equal(c.Timeout, want.timeout, key);
      assert.deepEqual(c.Environment?.Variables, { ...COMMON_ENV, ...want.env }, `${key}: environment names and values`);
    }
  });

  it('puts no secret value into a function or the template: a deployed stage gets only SSM parameter names', () => {
    const everything = JSON.stringify([...configs.values()]) + readFileSync(join(pkg, 'cloudformation-template-update-stack.json'), 'utf8');
    for (const [name, value] of Object.entries(SECRETS))
      assert.ok(!everything.includes(value), `${name} from the CLI's environment leaked`);
    for (const [key, c] of configs) {
      const vars = c.Environment?.Variables ?? {};
      for (const [k, v] of Object.entries(vars))
        if (k.endsWith('_PARAMETER') && v !== '') assert.match(v, new RegExp(`^${PREFIX}/`), `${key}.${k} names a parameter of the stage`);
      assert.equal(vars.CONSUL_HTTP_TOKEN, '', `${key} carries no token`);
    }
  });

  it('moto gap — architecture: moto reports x86_64 for arm64, so arm64 is checked on the packaged template', () => {
    for (const key of Object.keys(FUNCTIONS)) {
      const res = Object.values(template.Resources).find(
        (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.FunctionName === fnName(key),
      );
      assert.deepEqual(res?.Properties.Architectures, ['arm64'], key);
      assert.ok(['arm64', 'x86_64'].includes(configs.get(key)?.Architectures?.[0] ?? ''), `${key} deployed with some architecture`);
    }
  });

  it('schedules health-sync: an enabled rate(1 minute) rule whose only target is healthSync, allowed to invoke it', async () => {
    const rules = (await events.send(new ListRulesCommand({ NamePrefix: STACK }))).Rules ?? [];
    assert.equal(rules.length, 1);
    const [rule] = rules;
    assert.equal(rule.ScheduleExpression, 'rate(1 minute)');
    assert.equal(rule.State, 'ENABLED');
    const targets = (await events.send(new ListTargetsByRuleCommand({ Rule: rule.Name }))).Targets ?? [];
    assert.deepEqual(
      targets.map((t) => t.Arn),
      [configs.get('healthSync')?.FunctionArn],
    );
    const policy = JSON.parse((await lambda.send(new GetPolicyCommand({ FunctionName: fnName('healthSync') }))).Policy ?? '{}') as {
      Statement: { Principal: { Service: string }; Condition: { ArnLike: Record<string, string> } }[];
    };
    assert.ok(
      policy.Statement.some((s) => s.Principal.Service === 'events.amazonaws.com' && s.Condition.ArnLike['AWS:SourceArn'] === rule.Arn),
    );
  });

  it('creates the REST API: status and instances methods, API key required, Lambda proxy to their function', async () => {
    const apiId = (await cfn.send(new DescribeStackResourceCommand({ StackName: STACK, LogicalResourceId: 'ApiGatewayRestApi' })))
      .StackResourceDetail?.PhysicalResourceId;
    assert.ok(apiId);
    const resources = (await apigw.send(new GetResourcesCommand({ restApiId: apiId, embed: ['methods'] }))).items ?? [];
    const methods: string[] = [];
    for (const r of resources) {
      for (const [verb, m] of Object.entries(r.resourceMethods ?? {})) {
        const fn = /function:consul-grpc-lambda-ci-(\w+)\/invocations$/.exec(m.methodIntegration?.uri ?? '')?.[1];
        methods.push(`${verb} ${r.path} → ${fn}`);
        assert.equal(m.apiKeyRequired, true, `${verb} ${r.path} requires the API key`);
        assert.equal(m.authorizationType, 'NONE');
        assert.equal(m.methodIntegration?.type, 'AWS_PROXY');
      }
    }
    assert.deepEqual(methods.sort(), REST_METHODS);
    const stages = (await apigw.send(new GetStagesCommand({ restApiId: apiId }))).item ?? [];
    assert.deepEqual(
      stages.map((s) => s.stageName),
      [STAGE],
    );
  });

  it('moto gap — HTTP API (v2), API key and usage plan: moto skips them, so they are checked on the packaged template', () => {
    const of = (type: string) => Object.values(template.Resources).filter((r) => r.Type === type);
    assert.deepEqual(
      of('AWS::ApiGatewayV2::Route')
        .map((r) => r.Properties.RouteKey)
        .sort(),
      ['ANY /{proxy+}', 'GET /hello/{name}', 'POST /greet', 'POST /rpc/{service}/{method}'],
    );
    assert.deepEqual(template.Resources.HttpApiIntegrationGreet?.Properties.IntegrationUri, {
      'Fn::GetAtt': ['GreetLambdaFunction', 'Arn'],
    });
    const keys = of('AWS::ApiGateway::ApiKey');
    assert.equal(keys.length, 1);
    assert.equal(keys[0].Properties.Name, `consul-grpc-lambda-${STAGE}-registry`);
    assert.equal(keys[0].Properties.Value, undefined, 'AWS generates the key value of a deployed stage');
    const [plan] = of('AWS::ApiGateway::UsagePlan');
    assert.deepEqual(plan?.Properties.ApiStages, [{ ApiId: { Ref: 'ApiGatewayRestApi' }, Stage: STAGE }]);
    const [planKey] = of('AWS::ApiGateway::UsagePlanKey');
    assert.deepEqual(planKey?.Properties, {
      KeyId: { Ref: 'ApiGatewayApiKey1' },
      KeyType: 'API_KEY',
      UsagePlanId: { Ref: 'ApiGatewayUsagePlan' },
    });
  });

  it('moto gap — throttling: moto keeps neither the usage plan nor the HTTP API stage, so the defaults are checked on the packaged template', () => {
    const of = (type: string) => Object.values(template.Resources).filter((r) => r.Type === type);
    const [plan] = of('AWS::ApiGateway::UsagePlan');
    assert.deepEqual(plan?.Properties.Throttle, { RateLimit: 50, BurstLimit: 100 }, 'per API key: 50 requests/s, bursts of 100');
    assert.deepEqual(plan?.Properties.Quota, { Limit: 2_000_000, Period: 'DAY' }, 'per API key: 2,000,000 requests a day');
    const stages = of('AWS::ApiGatewayV2::Stage');
    assert.equal(stages.length, 1);
    assert.equal(stages[0].Properties.StageName, '$default');
    assert.deepEqual(
      stages[0].Properties.DefaultRouteSettings,
      { ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 },
      'the public HTTP API: 500 requests/s, bursts of 1,000',
    );
  });

  it('gives every function its own role, deployed with its own SSM reads; DiscoverInstances only to greet, status and rpc, Cloud Map writes only to healthSync', async () => {
    // The full proof (an IAM evaluator over every parameter) is test/integration/iam-roles.test.ts; here: what moto deployed.
    const ssmArn = (name: string) => `arn:aws:ssm:${REGION}:${account}:parameter${PREFIX}/${name}`;
    const discover = {
      Sid: 'DiscoverInMirror',
      Effect: 'Allow',
      Action: 'servicediscovery:DiscoverInstances',
      Resource: '*',
      Condition: { StringEquals: { 'servicediscovery:NamespaceName': NAMESPACE } },
    };
    const reads = (names: string[]) => ({
      Sid: 'ReadOwnSecrets',
      Effect: 'Allow',
      Action: 'ssm:GetParameter',
      Resource: names.map(ssmArn),
    });
    const nsArn = `arn:aws:servicediscovery:${REGION}:${account}:namespace/${namespaceId}`;
    const want: Record<string, { policy: string; statements: Statement[] }> = {
      greet: { policy: 'greet', statements: [reads(['consul-token/greeter-gateway']), discover] },
      status: { policy: 'status', statements: [reads(['consul-token/greeter-gateway']), discover] },
      instances: { policy: 'instances', statements: [reads(['consul-token/instance-registry', 'registry-signing-key'])] },
      rpc: { policy: 'rpc', statements: [reads(['consul-token/rpc-gateway']), discover] },
      healthSync: {
        policy: 'cloud-map-mirror',
        statements: [
          reads(['consul-token/health-sync']),
          {
            Sid: 'ReadNamespace',
            Effect: 'Allow',
            Action: ['servicediscovery:ListServices', 'servicediscovery:GetOperation'],
            Resource: '*',
          },
          {
            Sid: 'CreateServicesInNamespace',
            Effect: 'Allow',
            Action: ['servicediscovery:CreateService'],
            Resource: '*',
            Condition: { ArnEquals: { 'servicediscovery:NamespaceArn': nsArn } },
          },
          {
            Sid: 'ManageInstancesOfMirroredServices',
            Effect: 'Allow',
            Action: [
              'servicediscovery:GetService',
              'servicediscovery:ListInstances',
              'servicediscovery:GetInstancesHealthStatus',
              'servicediscovery:RegisterInstance',
              'servicediscovery:DeregisterInstance',
              'servicediscovery:UpdateInstanceCustomHealthStatus',
            ],
            Resource: `arn:aws:servicediscovery:${REGION}:${account}:service/*`,
          },
        ],
      },
    };
    const arns = new Set<string>();
    for (const [key, w] of Object.entries(want)) {
      const roleArn = configs.get(key)?.Role ?? '';
      arns.add(roleArn);
      assert.equal(roleArn, `arn:aws:iam::${account}:role/${STACK}-${REGION}-${key}`, `${key} runs with its own role`);
      const role = await roleStatements(roleArn);
      assert.deepEqual(role.policies, [w.policy], key);
      assert.deepEqual(role.statements, w.statements, key);
      const trust = policyDocument((await iam.send(new GetRoleCommand({ RoleName: role.name }))).Role?.AssumeRolePolicyDocument ?? '{}');
      assert.deepEqual(
        trust.Statement.map((s) =>
          [arr(s.Action), (s as unknown as { Principal: { Service: string | string[] } }).Principal.Service].flat(2),
        ),
        [['sts:AssumeRole', 'lambda.amazonaws.com']],
        `${key} trusts Lambda only`,
      );
    }
    assert.equal(arns.size, Object.keys(FUNCTIONS).length);
    const roles = ((await iam.send(new ListRolesCommand({}))).Roles ?? []).filter((r) => r.RoleName?.startsWith(STACK));
    assert.deepEqual(roles.map((r) => r.Arn).sort(), [...arns].sort(), 'no shared role: one per function and nothing else');
  });

  it('moto gap — managed policies: moto attaches none, so the VPC execution policy of every role is checked on the packaged template', async () => {
    const vpcPolicy = { 'Fn::Sub': 'arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole' };
    for (const key of Object.keys(FUNCTIONS)) {
      const id = `${key[0].toUpperCase()}${key.slice(1)}Role`;
      assert.deepEqual(template.Resources[id]?.Properties.ManagedPolicyArns, [vpcPolicy], id);
      const attached =
        (await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: (configs.get(key)?.Role ?? '').split('/').pop() })))
          .AttachedPolicies ?? [];
      assert.ok(
        attached.every((p) => p.PolicyName === 'AWSLambdaVPCAccessExecutionRole'),
        `${key}: nothing else is attached`,
      );
    }
    assert.equal(template.Resources.IamRoleLambdaExecution, undefined, 'the framework made no shared role');
  });

  it('moto gap — stack outputs: moto returns none after a change set, so the endpoints are checked on the packaged template', async () => {
    assert.ok(template.Outputs?.ServiceEndpoint, 'REST endpoint output');
    assert.ok(template.Outputs?.HttpApiUrl, 'HTTP API URL output');
    const outputs = (await stack()).Outputs ?? [];
    for (const o of outputs) assert.ok(o.OutputKey && template.Outputs?.[o.OutputKey], `deployed output ${o.OutputKey} is in the template`);
  });

  it("creates the dashboard with param alarms=true, read back from moto's CloudWatch", async () => {
    const board = await cloudWatch('GetDashboard', { DashboardName: `consul-grpc-lambda-${STAGE}` });
    for (const metric of [
      'GreetErrors',
      'GreetLatency',
      'RpcFailures',
      'RpcLatency',
      'RpcAttempts',
      'LeaseFailures',
      'HealthSyncRuns',
      'HealthSyncSkipped',
      'CloudMapErrors',
      'ConsulErrors',
      'ConsulThrottled',
    ])
      assert.match(board, new RegExp(`&quot;${metric}&quot;|"${metric}"`), `the dashboard shows ${metric}`);
    for (const alarm of ALARMS) assert.match(board, new RegExp(`:alarm:${alarm}`), `the dashboard shows the state of ${alarm}`);
    assert.doesNotMatch(board, /\$\{/, 'every ${…} of the body was substituted');
  });

  it("moto gap — alarms: moto's CloudFormation creates no metric-math alarm (DescribeAlarms stays empty), so they are checked on the packaged template (off by default, one param)", () => {
    assert.match(readFileSync(join(copy!.dir, 'serverless.yml'), 'utf8'), /^ {4}alarms: 'false'$/m, 'off unless a stage sets alarms=true');
    assert.equal(template.Parameters?.Alarms?.Default, 'true');
    assert.equal(template.Parameters?.AlarmTopicArn?.Default, ALARM_TOPIC);
    assert.equal(template.Parameters?.MetricsNamespace?.Default, 'consul-grpc-lambda');
    const alarms = Object.values(template.Resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
    for (const a of alarms) {
      const metrics = a.Properties.Metrics as { Id: string; Expression?: string; ReturnData: boolean }[];
      assert.deepEqual(
        metrics.filter((m) => m.ReturnData).length,
        1,
        `${String(a.Properties.AlarmName)}: one expression is the alarm's value`,
      );
      const ids = new Set(metrics.map((m) => m.Id));
      for (const ref of metrics.find((m) => m.ReturnData)?.Expression?.match(/\b[a-z][a-z]*\b(?!\()/g) ?? [])
        assert.ok(ids.has(ref), `${String(a.Properties.AlarmName)}: ${ref} is a metric of the alarm`);
    }
    assert.deepEqual(alarms.map((a) => a.Properties.AlarmName).sort(), [...ALARMS].sort());
    const dashboards = Object.values(template.Resources).filter((r) => r.Type === 'AWS::CloudWatch::Dashboard');
    assert.equal(dashboards.length, 1);
    for (const r of [...alarms, ...dashboards]) assert.equal(r.Condition, 'AlarmsEnabled');
    const metricsOf = (a: (typeof alarms)[number]) =>
      (
        a.Properties.Metrics as {
          Expression?: string;
          MetricStat?: { Metric: { Namespace: unknown; MetricName: string; Dimensions: { Name: string; Value: unknown }[] } };
        }[]
      ).flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric] : []));
    const watched = new Set<string>();
    for (const a of alarms) {
      assert.deepEqual(
        a.Properties.AlarmActions,
        { 'Fn::If': ['AlarmActionsEnabled', [{ Ref: 'AlarmTopicArn' }], { Ref: 'AWS::NoValue' }] },
        String(a.Properties.AlarmName),
      );
      for (const m of metricsOf(a)) {
        watched.add(m.MetricName);
        if (m.Namespace === 'AWS/Lambda')
          assert.deepEqual(m.Dimensions, [{ Name: 'FunctionName', Value: { Ref: 'HealthSyncLambdaFunction' } }]);
        else {
          assert.deepEqual(m.Namespace, { Ref: 'MetricsNamespace' });
          assert.equal(m.Dimensions[0]?.Name, 'service');
          assert.ok(
            ['greet', 'rpc', 'health-sync'].includes(String(m.Dimensions[0]?.Value)),
            'the POWERTOOLS_SERVICE_NAME of a function that publishes it',
          );
        }
      }
    }
    assert.deepEqual([...watched].sort(), [
      'CloudMapErrors',
      'ConsulErrors',
      'ConsulRequests',
      'ConsulThrottled',
      'Errors',
      'GreetErrors',
      'GreetLatency',
      'HealthSyncRuns',
      'HealthSyncSkipped',
      'LeaseFailures',
      'RpcFailures',
      'RpcLatency',
    ]);
  });

  it('redeploying the same package changes nothing: the framework skips it and the stack is untouched', async () => {
    const before = {
      stack: await stack(),
      events: (await cfn.send(new DescribeStackEventsCommand({ StackName: STACK }))).StackEvents?.length,
    };
    const res = await timed('redeploy (same package)', () => deployPackage(copy!, spec, pkg, moto!.endpoint));
    assert.match(res.output, /No changes to deploy\. Deployment skipped\./);
    const now = await stack();
    assert.deepEqual(now.LastUpdatedTime, before.stack.LastUpdatedTime);
    assert.equal((await cfn.send(new DescribeStackEventsCommand({ StackName: STACK }))).StackEvents?.length, before.events);
    for (const key of Object.keys(FUNCTIONS))
      assert.equal(
        (await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: fnName(key) }))).LastModified,
        configs.get(key)?.LastModified,
        key,
      );
  });

  it('repackaging unchanged sources changes only the names the framework stamps per deploy, and redeploys the same code and configuration', async () => {
    const pkg2 = tempDir('pkg2');
    await timed('repackage', () => packageStage(copy!, spec, pkg2, { env: CLI_ENV }));
    const md5 = (dir: string, f: string) =>
      createHash('md5')
        .update(readFileSync(join(dir, f)))
        .digest('hex');
    for (const key of Object.keys(FUNCTIONS)) assert.equal(md5(pkg2, `${key}.zip`), md5(pkg, `${key}.zip`), `${key}.zip is reproducible`);
    // The artifact folder (a timestamp) and the API Gateway deployment's logical id change on every package.
    // osls's change check does not normalise the usage plan's DependsOn on that id, so it deploys again.
    const stamp = (dir: string) =>
      readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8')
        .replace(/\/\d{13}-[\dT:.-]+Z\//g, '/<artifacts>/')
        .replace(/ApiGatewayDeployment\d{13}/g, 'ApiGatewayDeployment<ts>');
    // Resource order follows the order in which the bundles finished; compare as objects.
    assert.deepEqual(JSON.parse(stamp(pkg2)), JSON.parse(stamp(pkg)));
    await timed('redeploy (new package)', () => deployPackage(copy!, spec, pkg2, moto!.endpoint));
    for (const key of Object.keys(FUNCTIONS)) {
      const {
        LastModified: _a,
        RevisionId: _b,
        ...now
      } = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: fnName(key) }));
      const { LastModified: _c, RevisionId: _d, ...was } = configs.get(key)!;
      assert.deepEqual(
        { ...now, $metadata: undefined },
        { ...was, $metadata: undefined },
        `${key}: same code (CodeSha256) and configuration`,
      );
    }
  });

  it('serverless remove deletes the stack and the functions, roles and schedule it created', async () => {
    const apiId = (await cfn.send(new DescribeStackResourceCommand({ StackName: STACK, LogicalResourceId: 'ApiGatewayRestApi' })))
      .StackResourceDetail?.PhysicalResourceId;
    await timed('remove', () => removeStage(copy!, spec, moto!.endpoint));
    // moto keeps deleted stacks visible by id, like AWS; by name it reports DELETE_COMPLETE or "does not exist".
    const status = await stack().then(
      (s) => s.StackStatus,
      (err: Error) => (/does not exist/.test(err.message) ? 'GONE' : err.message),
    );
    assert.match(
      status ?? '',
      /^(DELETE_COMPLETE|GONE)$/,
      'DELETE_COMPLETE also means the deployment bucket and log groups went (moto fails the delete otherwise)',
    );
    const fns = (await lambda.send(new ListFunctionsCommand({}))).Functions ?? [];
    assert.deepEqual(
      fns.filter((f) => f.FunctionName?.startsWith(STACK)),
      [],
    );
    const roles = (await iam.send(new ListRolesCommand({}))).Roles ?? [];
    assert.deepEqual(
      roles.filter((r) => r.RoleName?.startsWith(STACK)),
      [],
    );
    assert.deepEqual((await events.send(new ListRulesCommand({ NamePrefix: STACK }))).Rules ?? [], []);
    // moto gap: its RestAPI model has no CloudFormation delete, so the API outlives the stack in moto
    // (CloudFormation on AWS deletes it). Nothing but that one API may be left.
    const apis = ((await apigw.send(new GetRestApisCommand({}))).items ?? []).map((a) => a.id);
    assert.ok(
      apis.every((id) => id === apiId),
      `only the stack's REST API (${apiId}) may outlive it in moto, found ${apis.join(', ')}`,
    );
  });
});
