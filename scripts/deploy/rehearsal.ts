/**
 * The real deploy path against moto: `serverless deploy --package` and `serverless remove` with the
 * real CLI on a service copy, plus what a rehearsal needs around it (SDK client settings for moto, a
 * Cloud Map namespace for the health-sync role to point at).
 */
import {
  CreateHttpNamespaceCommand,
  GetOperationCommand,
  ListNamespacesCommand,
  ServiceDiscoveryClient,
} from '@aws-sdk/client-servicediscovery';
import { motoAwsEnv } from './moto-for-deploy';
import { runServerless, stageArgs, type CliOptions, type CliResult, type ServiceCopy, type StageSpec } from './serverless-cli';

/** The service name in serverless.yml. */
export const SERVICE = 'consul-grpc-lambda';

/** The CloudFormation stack of a stage. */
export const stackName = (stage: string): string => `${SERVICE}-${stage}`;

/** SDK v3 client settings for moto (the same fake credentials the CLI gets). */
export function motoClientConfig(endpoint: string, region: string) {
  return { region, endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing', sessionToken: 'testing' } };
}

type Echo = Pick<CliOptions, 'echo'>;

/** `serverless deploy --package <dir>` into moto, run from the service copy (whose .serverless it uses). */
export function deployPackage(copy: ServiceCopy, spec: StageSpec, packageDir: string, endpoint: string, o: Echo = {}): Promise<CliResult> {
  return runServerless(['deploy', ...stageArgs(spec), '--package', packageDir], {
    ...o,
    cwd: copy.dir,
    env: motoAwsEnv(endpoint, spec.region ?? 'eu-west-1'),
  });
}

/** `serverless remove` of the stage's stack in moto. */
export function removeStage(copy: ServiceCopy, spec: StageSpec, endpoint: string, o: Echo = {}): Promise<CliResult> {
  return runServerless(['remove', ...stageArgs(spec)], { ...o, cwd: copy.dir, env: motoAwsEnv(endpoint, spec.region ?? 'eu-west-1') });
}

/** The id of Cloud Map HTTP namespace `name` in moto, created when missing. */
export async function ensureNamespace(endpoint: string, region: string, name: string): Promise<string> {
  const sd = new ServiceDiscoveryClient(motoClientConfig(endpoint, region));
  try {
    const list = await sd.send(new ListNamespacesCommand({}));
    const found = list.Namespaces?.find((n) => n.Name === name)?.Id;
    if (found) return found;
    const op = await sd.send(new CreateHttpNamespaceCommand({ Name: name }));
    // moto completes operations at once; AWS would need a bounded wait here.
    const got = await sd.send(new GetOperationCommand({ OperationId: op.OperationId }));
    const id = got.Operation?.Targets?.NAMESPACE;
    if (!id) throw new Error(`Cloud Map namespace ${name} was not created (${got.Operation?.Status})`);
    return id;
  } finally {
    sd.destroy();
  }
}
