/** The only settings that come from the environment: where Consul is, the token (or its SSM name), the K/V prefix. */
import { z } from 'zod';
import { ConfigError } from './errors';

/** Connection settings for a function, read from its environment. */
export interface FunctionEnvironment {
  consulAddress: string;
  /** ACL token given directly (local); never logged, redacted in /status. */
  consulToken?: string;
  /** SSM parameter holding the token (deployed): CONSUL_HTTP_TOKEN_PARAMETER. */
  consulTokenParameter?: string;
  configPrefix: string;
}

const envSchema = z.object({
  CONSUL_HTTP_ADDR: z.string().trim().min(1).default('127.0.0.1:8500'),
  CONSUL_HTTP_TOKEN: z.string().trim().optional(),
  CONSUL_HTTP_TOKEN_PARAMETER: z.string().trim().optional(),
  CONFIG_PREFIX: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_./-]+\/$/, 'must be a K/V path ending in "/"')
    .default('config/greeter-gateway/local/'),
});

/** Reads and validates the environment; throws with the variable name on a bad value. */
export function readFunctionEnvironment(env: NodeJS.ProcessEnv = process.env): FunctionEnvironment {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError('invalid_environment', `invalid environment variable ${issue?.path.join('.') ?? '?'}: ${issue?.message ?? 'invalid'}`);
  }
  const e = parsed.data;
  return { consulAddress: e.CONSUL_HTTP_ADDR, consulToken: e.CONSUL_HTTP_TOKEN || undefined, consulTokenParameter: e.CONSUL_HTTP_TOKEN_PARAMETER || undefined, configPrefix: e.CONFIG_PREFIX };
}
