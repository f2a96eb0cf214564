/**
 * The one place where errors become HTTP answers: one table per domain maps
 * each kind to a status and a stable code. A domain's message is shown when it
 * is the caller's to fix; infrastructure errors get a fixed message, and their
 * detail goes to the log only, without a stack trace or a token.
 */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { AppError } from '../errors/app-error';
import { GreetError, type GreetErrorKind } from '../greeter/errors';
import { errorSummary, type Log } from '../log/logger';
import { RegistryError, type RegistryErrorKind } from '../registry/errors';
import { ConfigError, ConsulAddressError, ConsulRequestError, type ConfigErrorKind, type ConsulErrorKind } from '../runtime/runtime-errors';
import { RequestError, type RequestErrorKind } from './errors';
import { json } from './responses';

/** How one kind is answered: `message` replaces the error's own; `log` says at which level it is recorded. */
interface Answer {
  status: number;
  code: string;
  message?: string;
  log?: 'warn' | 'error';
  retryAfterSeconds?: number;
}

const REQUEST: Record<RequestErrorKind, Answer> = {
  invalid_body: { status: 400, code: 'INVALID_INPUT' },
  payload_too_large: { status: 413, code: 'PAYLOAD_TOO_LARGE' },
  unsupported_media_type: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  method_not_allowed: { status: 405, code: 'METHOD_NOT_ALLOWED' },
};

const GREET: Record<GreetErrorKind, Answer> = {
  invalid_name: { status: 400, code: 'INVALID_INPUT' },
  no_healthy_instance: { status: 503, code: 'NO_HEALTHY_INSTANCE', log: 'warn' },
  unavailable: { status: 503, code: 'BACKEND_UNAVAILABLE', log: 'warn' },
  deadline: { status: 504, code: 'DEADLINE_EXCEEDED', log: 'warn' },
  backend: { status: 502, code: 'BACKEND_ERROR', log: 'warn' },
  forbidden_by_intention: { status: 403, code: 'INTENTION_DENIED', log: 'warn' },
};

const REGISTRY: Record<RegistryErrorKind, Answer> = {
  invalid_request: { status: 400, code: 'INVALID_INPUT' },
  not_found: { status: 404, code: 'NOT_FOUND' },
  forbidden: { status: 403, code: 'FORBIDDEN' },
  health_is_probed: { status: 409, code: 'HEALTH_IS_PROBED' },
  idempotency_key_reused: { status: 422, code: 'IDEMPOTENCY_KEY_REUSED' },
  idempotency_conflict: { status: 409, code: 'IDEMPOTENCY_CONFLICT', retryAfterSeconds: 1 },
  // Instances free up when deleted or once their TTL lapses; 30 s is a fair first wait.
  quota_exceeded: { status: 429, code: 'QUOTA_EXCEEDED', retryAfterSeconds: 30 },
};

// Consul's own ACL decision is passed on as ours; anything else means Consul is not usable right now.
const CONSUL: Record<ConsulErrorKind, Answer> = {
  forbidden: { status: 403, code: 'FORBIDDEN', message: 'not permitted by the Consul ACL policy of this function', log: 'warn' },
  unavailable: {
    status: 503,
    code: 'CONSUL_UNAVAILABLE',
    message: 'service registry temporarily unavailable',
    log: 'error',
    retryAfterSeconds: 1,
  },
};

const CONFIG: Record<ConfigErrorKind, Answer> = {
  invalid_environment: { status: 500, code: 'MISCONFIGURED', message: 'the function is misconfigured; its log says how', log: 'error' },
  invalid_secret: { status: 500, code: 'MISCONFIGURED', message: 'the function is misconfigured; its log says how', log: 'error' },
  invalid_config: { status: 500, code: 'MISCONFIGURED', message: 'the function is misconfigured; its log says how', log: 'error' },
  secret_unavailable: {
    status: 503,
    code: 'SECRETS_UNAVAILABLE',
    message: 'secrets temporarily unavailable',
    log: 'error',
    retryAfterSeconds: 1,
  },
};

const INTERNAL: Answer = { status: 500, code: 'INTERNAL', message: 'internal error', log: 'error' };

function answerFor(err: unknown): { answer: Answer; known?: AppError } {
  if (err instanceof RequestError) return { answer: REQUEST[err.kind], known: err };
  if (err instanceof GreetError) {
    const answer = GREET[err.kind];
    // Only "try again later" answers carry Retry-After.
    return { answer: answer.status === 503 ? { ...answer, retryAfterSeconds: err.details.retryAfterSeconds } : answer, known: err };
  }
  if (err instanceof RegistryError) return { answer: REGISTRY[err.kind], known: err };
  if (err instanceof ConsulRequestError) return { answer: CONSUL[err.kind], known: err };
  if (err instanceof ConfigError) return { answer: CONFIG[err.kind], known: err };
  // CONSUL_HTTP_ADDR that cannot be used (a mixed http/https list, a bad scheme) is a deploy-time mistake, as a bad variable is.
  if (err instanceof ConsulAddressError) return { answer: CONFIG.invalid_environment, known: err };
  return { answer: INTERNAL };
}

/** `{"error": {code, message}}` for any error; unknown errors become a bare 500, logged without stack. */
export function errorResponse(err: unknown, log: Log): APIGatewayProxyStructuredResultV2 {
  const { answer, known } = answerFor(err);
  if (answer.log) {
    const extra =
      err instanceof GreetError
        ? {
            attempts: err.details.attempts,
            backendService: err.details.backendService,
            cause: err.cause ? errorSummary(err.cause) : undefined,
          }
        : {};
    log[answer.log](known ? `${known.domain} request failed` : 'unhandled error', {
      kind: known?.kind,
      status: answer.status,
      error: errorSummary(err),
      ...extra,
    });
  }
  const headers: Record<string, string> = answer.retryAfterSeconds ? { 'retry-after': String(answer.retryAfterSeconds) } : {};
  return json(answer.status, { error: { code: answer.code, message: answer.message ?? known?.message ?? 'internal error' } }, headers);
}
