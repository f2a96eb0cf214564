/**
 * Secrets (Consul tokens, the registry's signing key) come from the environment
 * locally and from SSM Parameter Store when deployed: `<NAME>_PARAMETER` names a
 * SecureString that is fetched, decrypted, once per execution environment. The
 * value then never appears in the function's configuration or its template.
 */
import { SSMClient } from '@aws-sdk/client-ssm';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';

let provider: SSMProvider | undefined;

function ssm(): SSMProvider {
  // Bounded like every other external call; the endpoint can be overridden with AWS_ENDPOINT_URL_SSM.
  provider ??= new SSMProvider({
    awsSdkV3Client: new SSMClient({ maxAttempts: 2, requestHandler: { requestTimeout: 2_000, throwOnRequestTimeout: true, connectionTimeout: 1_000 } }),
  });
  return provider;
}

/** The secret `name`: `process.env[name]`, else the SSM parameter named by `process.env[name + '_PARAMETER']`. */
export async function resolveSecret(name: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const direct = env[name]?.trim();
  if (direct) return direct;
  const parameter = env[`${name}_PARAMETER`]?.trim();
  if (!parameter) return undefined;
  try {
    const value = await ssm().get(parameter, { decrypt: true, maxAge: 900 });
    if (typeof value !== 'string' || !value) throw new Error('empty value');
    return value;
  } catch (err) {
    // Name the parameter, never a value.
    // The SDK's error carries the request, not the (unread) value, so it may stay as the cause.
    throw new Error(`could not read ${name} from SSM parameter ${parameter}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}
