/**
 * `npm run deploy:local`: deploys the real stack with the real Serverless CLI into moto (a local fake
 * of the AWS APIs) and prints what was deployed. The rehearsal of `serverless deploy`; see README
 * "Deploying".
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CloudFormationClient, DescribeStackResourceCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { APIGatewayClient, GetResourcesCommand } from '@aws-sdk/client-api-gateway';
import { EventBridgeClient, ListRulesCommand, ListTargetsByRuleCommand } from '@aws-sdk/client-eventbridge';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { startDeployMoto, type DeployMoto } from './moto-for-deploy';
import { deployPackage, ensureNamespace, motoClientConfig, removeStage, SERVICE, stackName } from './rehearsal';
import { copyService, DEFAULT_REGION, DEPLOYED_STAGE, packageStage, type StageSpec } from './serverless-cli';

const HELP = `Usage: npm run deploy:local -- [--stage ci] [--region ${DEFAULT_REGION}] [--param key=value]... [--keep] [--port N] [--remove] [--verbose]
  Packages the stage into a temp dir and runs \`serverless deploy --package\` against moto.
  --stage    a deployed stage (default ci): functions get SSM parameter names, never token values
  --param    passed to serverless (consulHttpAddr, cloudMapNamespaceId, ...); without cloudMapNamespaceId
             a Cloud Map namespace "${SERVICE}-<stage>" is created in moto and used
  --keep     leave the moto it started running (detached; prints how to use and stop it)
  --port     port of the moto it starts (default: a free one)
  --remove   run \`serverless remove\` after the deploy (a full round trip)
  --verbose  show the Serverless CLI output
Environment: MOTO_ENDPOINT=http://127.0.0.1:PORT deploys into that moto instead of starting one; it must be
a moto started by this script (--keep), since plain moto_server rejects the framework's own cfn-lint warnings.`;

function options() {
  const { values } = parseArgs({
    options: {
      stage: { type: 'string', default: DEPLOYED_STAGE.stage },
      region: { type: 'string', default: DEFAULT_REGION },
      param: { type: 'string', multiple: true, default: [] },
      keep: { type: 'boolean', default: false },
      port: { type: 'string' },
      remove: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  if (values.stage === 'local')
    throw new Error('stage "local" puts tokens from your environment into the functions; rehearse a deployed stage (default ci)');
  const params: Record<string, string> = values.stage === DEPLOYED_STAGE.stage ? { ...DEPLOYED_STAGE.params } : {};
  delete params.cloudMapNamespaceId;
  for (const p of values.param) {
    const [k, v] = p.split(/=(.*)/s, 2);
    if (!k || v === undefined) throw new Error(`--param wants key=value, got "${p}"`);
    params[k] = v;
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536))
    throw new Error(`--port must be a port number, got "${values.port}"`);
  return {
    spec: { stage: values.stage, region: values.region, params } as StageSpec,
    keep: values.keep,
    port,
    remove: values.remove,
    verbose: values.verbose,
  };
}

let moto: DeployMoto | undefined;
let keepMoto = false;
let region = DEFAULT_REGION;
const cleanups: (() => void)[] = [];

let cleaned = false;

async function cleanUp(): Promise<void> {
  for (const c of cleanups.splice(0)) c();
  if (!moto || cleaned) return;
  cleaned = true;
  if (!keepMoto) return moto.stop();
  console.log(`\nmoto keeps running (pid ${moto.pid}, log ${moto.logFile}). Use it:
  export AWS_ENDPOINT_URL=${moto.endpoint} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=${region} AWS_DEFAULT_REGION=${region}
  MOTO_ENDPOINT=${moto.endpoint} npm run deploy:local   # deploy again into it
Stop it with: kill ${moto.pid}`);
}

async function main(): Promise<void> {
  const o = options();
  // As in `npm start`: the SDK's 9-line notice that it will drop Node 20; set it to anything but "true" to see it.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  region = o.spec.region ?? DEFAULT_REGION;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void cleanUp().finally(() => process.exit(130)));

  let endpoint = process.env.MOTO_ENDPOINT;
  if (endpoint) console.log(`Using moto at ${endpoint} (MOTO_ENDPOINT)`);
  else {
    keepMoto = o.keep;
    const log = o.keep ? join(tmpdir(), `cgl-deploy-moto-${process.pid}.log`) : undefined;
    moto = await startDeployMoto({ port: o.port, detachedLogFile: log });
    endpoint = moto.endpoint;
    console.log(`Started moto at ${endpoint}`);
  }

  o.spec.params.cloudMapNamespaceId ??= await ensureNamespace(endpoint, region, `${SERVICE}-${o.spec.stage}`);
  const copy = copyService();
  const out = mkdtempSync(join(tmpdir(), `cgl-package-${o.spec.stage}-`));
  cleanups.push(copy.remove, () => rmSync(out, { recursive: true, force: true }));
  const echo = o.verbose ? (s: string) => process.stdout.write(s) : undefined;

  let t = Date.now();
  await packageStage(copy, o.spec, out, { echo });
  console.log(`Packaged stage ${o.spec.stage} (${Date.now() - t} ms)`);
  t = Date.now();
  const res = await deployPackage(copy, o.spec, out, endpoint, { echo });
  const skipped = /No changes to deploy/.test(res.output);
  console.log(`${skipped ? 'No changes: deployment skipped' : 'Deployed'} (${Date.now() - t} ms)\n`);
  await printDeployment(endpoint, o.spec, out);

  if (o.remove) {
    await removeStage(copy, o.spec, endpoint, { echo });
    console.log(`\nRemoved stack ${stackName(o.spec.stage)}`);
  }
}

/** What is in moto now: stack, functions, REST API, schedule, the SSM parameters the functions will read. */
async function printDeployment(endpoint: string, spec: StageSpec, packageDir: string): Promise<void> {
  const cfg = motoClientConfig(endpoint, spec.region ?? DEFAULT_REGION);
  const [cfn, lambda, apigw, events, ssm] = [
    new CloudFormationClient(cfg),
    new LambdaClient(cfg),
    new APIGatewayClient(cfg),
    new EventBridgeClient(cfg),
    new SSMClient(cfg),
  ];
  try {
    const name = stackName(spec.stage);
    const stack = (await cfn.send(new DescribeStacksCommand({ StackName: name }))).Stacks?.[0];
    console.log(`Stack ${name}: ${stack?.StackStatus} in moto at ${endpoint}`);
    const template = JSON.parse(readFileSync(join(packageDir, 'cloudformation-template-update-stack.json'), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    const ssmNames = new Set<string>();
    console.log('Functions (architecture from the template: moto reports x86_64 for arm64):');
    for (const r of Object.values(template.Resources).filter((x) => x.Type === 'AWS::Lambda::Function')) {
      const fn = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: r.Properties.FunctionName as string }));
      const env = fn.Environment?.Variables ?? {};
      for (const [k, v] of Object.entries(env)) if (k.endsWith('_PARAMETER') && v) ssmNames.add(v);
      const arch = (r.Properties.Architectures as string[] | undefined)?.join(',') ?? 'x86_64';
      console.log(`  ${fn.FunctionName}  ${fn.Handler}  ${fn.Runtime} ${arch} ${fn.MemorySize} MB ${fn.Timeout} s`);
      console.log(`      role: ${fn.Role?.split('/').pop()} (its own; reads only the SSM parameters its environment names)`);
      console.log(`      env: ${Object.keys(env).join(', ')}`);
    }
    const apiId = (await cfn.send(new DescribeStackResourceCommand({ StackName: name, LogicalResourceId: 'ApiGatewayRestApi' })))
      .StackResourceDetail?.PhysicalResourceId;
    if (apiId) {
      console.log(`REST API ${apiId}, stage ${spec.stage} (in moto: ${endpoint}/restapis/${apiId}/${spec.stage}/_user_request_/status):`);
      const resources = (await apigw.send(new GetResourcesCommand({ restApiId: apiId, embed: ['methods'] }))).items ?? [];
      for (const res of resources)
        for (const [verb, m] of Object.entries(res.resourceMethods ?? {}))
          console.log(`  ${verb.padEnd(6)} ${res.path}${m.apiKeyRequired ? '  (API key)' : ''}`);
    }
    const routes = Object.values(template.Resources)
      .filter((x) => x.Type === 'AWS::ApiGatewayV2::Route')
      .map((x) => x.Properties.RouteKey as string);
    console.log(`HTTP API (greet): ${routes.join(', ')} — in the template only; moto does not implement API Gateway v2 in CloudFormation`);
    const plan = Object.values(template.Resources).find((x) => x.Type === 'AWS::ApiGateway::UsagePlan')?.Properties;
    const stage = Object.values(template.Resources).find((x) => x.Type === 'AWS::ApiGatewayV2::Stage')?.Properties;
    console.log(
      `API key and usage plan (throttle ${JSON.stringify(plan?.Throttle)}, quota ${JSON.stringify(plan?.Quota)}): in the template only; moto skips them`,
    );
    console.log(`HTTP API stage throttling ${JSON.stringify(stage?.DefaultRouteSettings)}: in the template only`);
    for (const rule of (await events.send(new ListRulesCommand({ NamePrefix: name }))).Rules ?? []) {
      const targets = (await events.send(new ListTargetsByRuleCommand({ Rule: rule.Name }))).Targets ?? [];
      console.log(`Schedule ${rule.Name}: ${rule.ScheduleExpression} → ${targets.map((x) => x.Arn?.split(':').pop()).join(', ')}`);
    }
    console.log('SSM SecureStrings the functions read on cold start (create them before invoking):');
    for (const n of [...ssmNames].sort()) {
      const present = await ssm.send(new GetParameterCommand({ Name: n })).then(
        () => 'present',
        () => 'missing',
      );
      console.log(`  ${n}  (${present} in moto)`);
    }
  } finally {
    for (const c of [cfn, lambda, apigw, events, ssm]) c.destroy();
  }
}

main()
  .catch((err: unknown) => {
    console.error(`✖ ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
    if (/ValidationError|template is invalid/i.test(String(err)) && process.env.MOTO_ENDPOINT)
      console.error(
        '  If MOTO_ENDPOINT is a plain moto_server, it rejects cfn-lint warnings; use one started by `npm run deploy:local -- --keep`.',
      );
  })
  .finally(() => cleanUp());
