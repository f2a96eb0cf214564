/**
 * Secrets (Consul tokens, the registry's signing key) come from the environment
 * locally and from SSM Parameter Store when deployed: `<NAME>_PARAMETER` names a
 * SecureString that is fetched, decrypted, once per execution environment. The
 * value then never appears in the function's configuration or its template.
 */
import { SSMClient } from '@aws-sdk/client-ssm';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { ConfigError } from './errors';

/** Reads named secrets; one per function runtime, so its SSM client and cache live there. */
export interface SecretResolver {
  /** The secret `name`: `env[name]`, else the SSM parameter named by `env[name + '_PARAMETER']`, else undefined. */
  resolve(name: string): Promise<string | undefined>;
}

/** A resolver over `env`; the SSM client is built only if a parameter is actually read. */
export function createSecretResolver(env: NodeJS.ProcessEnv = process.env): SecretResolver {
  let provider: SSMProvider | undefined;
  // Bounded like every other external call; the endpoint can be overridden with AWS_ENDPOINT_URL_SSM.
  const ssm = () =>
    (provider ??= new SSMProvider({
      awsSdkV3Client: new SSMClient({ maxAttempts: 2, requestHandler: { requestTimeout: 2_000, throwOnRequestTimeout: true, connectionTimeout: 1_000 } }),
    }));
  return {
    async resolve(name) {
      const direct = env[name]?.trim();
      if (direct) return direct;
      const parameter = env[`${name}_PARAMETER`]?.trim();
      if (!parameter) return undefined;
      let value: unknown;
      try {
        value = await ssm().get(parameter, { decrypt: true, maxAge: 900 });
      } catch (err) {
        // Name the parameter, never a value. The SDK's error carries the request, not the
        // (unread) value, so it may stay as the cause. A missing parameter is a deployment
        // mistake; anything else (throttling, timeouts) may pass on retry.
        const missing = err instanceof Error && err.cause instanceof Error && err.cause.name === 'ParameterNotFound';
        throw new ConfigError(missing ? 'invalid_secret' : 'secret_unavailable', `could not read ${name} from SSM parameter ${parameter}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      if (typeof value !== 'string' || !value) throw new ConfigError('invalid_secret', `SSM parameter ${parameter} (${name}) is empty`);
      return value;
    },
  };
}
