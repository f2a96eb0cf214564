/**
 * `npm run aws -- <args>`: the AWS CLI (pinned, in the project's moto venv) pointed at the local
 * stack's moto, never at AWS: the endpoint is AWS_ENDPOINT_URL or --endpoint-url if given, else
 * the running stack's moto (stack.env in LOCAL_STACK_DIR or .local-stack/); without one it refuses
 * to run. Test credentials and the stack's region unless the environment sets them, e.g.
 *   npm run aws -- servicediscovery list-namespaces
 */
import { ensureAwsCli } from '../stack/moto';
import { fail, runTool } from './run-tool';
import { readStackState, stateDir } from './stack-state';

const args = process.argv.slice(2);
const env = { ...process.env };
const stack = readStackState();
if (!env.AWS_ENDPOINT_URL?.trim() && !args.some((a) => a === '--endpoint-url' || a.startsWith('--endpoint-url='))) {
  if (!stack)
    fail(
      `no local stack in ${stateDir()} (start it with npm start, or set LOCAL_STACK_DIR); this wrapper only talks to the local moto, or to AWS_ENDPOINT_URL`,
    );
  env.AWS_ENDPOINT_URL = stack.MOTO_ENDPOINT;
}
// Cloud Map's DiscoverInstances would go to data-<endpoint host>: moto answers every API at one address.
env.AWS_DISABLE_HOST_PREFIX_INJECTION ||= 'true';
// moto accepts any credentials; these keep a real profile's from being sent anywhere.
env.AWS_ACCESS_KEY_ID ||= 'testing';
env.AWS_SECRET_ACCESS_KEY ||= 'testing';
// AWS CLI v1 reads AWS_DEFAULT_REGION, the SDKs AWS_REGION: set both alike.
const region = env.AWS_DEFAULT_REGION || env.AWS_REGION || stack?.AWS_REGION || 'us-east-1';
env.AWS_DEFAULT_REGION ||= region;
env.AWS_REGION ||= region;
runTool(
  ensureAwsCli((l) => console.error(l)),
  args,
  env,
);
