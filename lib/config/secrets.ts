/**
 * Secrets (Consul tokens, the registry's signing key) come from the environment
 * locally and from SSM Parameter Store when deployed: `<NAME>_PARAMETER` names a
 * SecureString that is fetched, decrypted, once per execution environment. The
 * value then never appears in the function's configuration or its template.
 *
 * Two ways to SSM, the cheaper first:
 * - the AWS Parameters and Secrets Lambda Extension (a layer), when the function sets
 *   PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: one loopback GET, no SDK loaded at all;
 * - otherwise `@aws-sdk/client-ssm`, imported on the first read only. It is not in the
 *   bundle (serverless.yml `custom.esbuild.exclude`): the Lambda Node.js runtime ships the
 *   v3 SDK, and bundling it cost ~500 KB and ~60 % of every cold start's require time,
 *   including the many that never read SSM (docs/performance.md). We call the SDK's
 *   GetParameter directly rather than through Powertools Parameters, whose provider
 *   imports the SDK at load time and whose cache a read-once secret does not need.
 */
import { ConfigError } from './errors';

/** Reads named secrets; one per function runtime, so its SSM client lives there. */
export interface SecretResolver {
  /** The secret `name`: `env[name]`, else the SSM parameter named by `env[name + '_PARAMETER']`, else undefined. */
  resolve(name: string): Promise<string | undefined>;
}

/** Reads one SecureString, decrypted; throws ConfigError naming the parameter, never a value. */
type ParameterReader = (parameter: string, name: string) => Promise<string>;

/** Every SSM read is bounded like every other external call. */
const TIMEOUT_MS = 2_000;

/** The variables a resolver reads by name (the runtime passes secretVariables() from ./environment). */
export type SecretVariables = Readonly<Record<string, string | undefined>>;

/** A resolver over `env`; nothing SSM-related is loaded unless a parameter is actually read. */
export function createSecretResolver(env: SecretVariables): SecretResolver {
  let read: ParameterReader | undefined;
  const reader = () => (read ??= env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT?.trim() ? extensionReader(env) : sdkReader());
  return {
    async resolve(name) {
      const direct = env[name]?.trim();
      if (direct) return direct;
      const parameter = env[`${name}_PARAMETER`]?.trim();
      if (!parameter) return undefined;
      const value = await reader()(parameter, name);
      if (!value) throw new ConfigError('invalid_secret', `SSM parameter ${parameter} (${name}) is empty`);
      return value;
    },
  };
}

/** GetParameter through the extension's local endpoint, authenticated with the environment's session token. */
function extensionReader(env: SecretVariables): ParameterReader {
  const base = `http://localhost:${env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT?.trim()}/systemsmanager/parameters/get`;
  return async (parameter, name) => {
    const where = `${name} from SSM parameter ${parameter} through the Parameters and Secrets extension`;
    let res: Response;
    try {
      res = await fetch(`${base}?name=${encodeURIComponent(parameter)}&withDecryption=true`, {
        headers: { 'X-Aws-Parameters-Secrets-Token': env.AWS_SESSION_TOKEN ?? '' },
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      throw new ConfigError('secret_unavailable', `could not read ${where}: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
    // The extension answers with SSM's own JSON; an error body carries SSM's error name, not a value.
    const body = await res.text().catch(() => '');
    if (!res.ok) {
      const missing = res.status === 404 || /ParameterNotFound/.test(body);
      throw new ConfigError(
        missing ? 'invalid_secret' : 'secret_unavailable',
        `could not read ${where}: HTTP ${res.status} ${body.slice(0, 200)}`,
      );
    }
    let value: unknown;
    try {
      value = (JSON.parse(body) as { Parameter?: { Value?: unknown } }).Parameter?.Value;
    } catch {
      throw new ConfigError('secret_unavailable', `could not read ${where}: the answer is not JSON`);
    }
    return typeof value === 'string' ? value : '';
  };
}

/** GetParameter through the SDK, loaded on the first call; one client per resolver. */
function sdkReader(): ParameterReader {
  let client: Promise<{ get(parameter: string): Promise<string | undefined> }> | undefined;
  const load = () =>
    // require, not import(): the bundle leaves the SDK to the Lambda runtime's copy, found through
    // NODE_PATH (/var/runtime/node_modules), which require honours and import() does not.
    (client ??= Promise.resolve()
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
      .then(() => require('@aws-sdk/client-ssm') as typeof import('@aws-sdk/client-ssm'))
      .then(({ SSMClient, GetParameterCommand }) => {
        // The endpoint can be overridden with AWS_ENDPOINT_URL_SSM (moto in the tests).
        const ssm = new SSMClient({
          maxAttempts: 2,
          requestHandler: { requestTimeout: TIMEOUT_MS, throwOnRequestTimeout: true, connectionTimeout: 1_000 },
        });
        return {
          get: async (parameter: string) =>
            (await ssm.send(new GetParameterCommand({ Name: parameter, WithDecryption: true }))).Parameter?.Value,
        };
      }));
  return async (parameter, name) => {
    try {
      const ssm = await load().catch((err: unknown) => {
        client = undefined; // the import failed: the next read tries again
        throw err;
      });
      return (await ssm.get(parameter)) ?? '';
    } catch (err) {
      // Name the parameter, never a value: the SDK's error carries the request, not the (unread)
      // value, so it may stay as the cause. A missing parameter is a deployment mistake; anything
      // else (throttling, timeouts, an SDK the runtime lacks) may pass on retry.
      const missing = err instanceof Error && err.name === 'ParameterNotFound';
      throw new ConfigError(
        missing ? 'invalid_secret' : 'secret_unavailable',
        `could not read ${name} from SSM parameter ${parameter}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
  };
}
