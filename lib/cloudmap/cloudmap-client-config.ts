/**
 * The Cloud Map client's configuration, the same for AWS and for moto.
 *
 * Retries are the SDK's standard mode: exponential backoff with jitter on
 * throttling (Cloud Map's RequestLimitExceeded included), 5xx and timeouts,
 * bounded by `maxAttempts` and a retry quota, so a throttled sync slows down
 * instead of hammering the API. A request timeout keeps a stalled connection
 * from eating a Lambda's whole time budget.
 *
 * The SDK is imported for its types only: the bundles leave it to the Lambda runtime's and load it on
 * first use. A value import here would be hoisted to the top of the one-file bundle by esbuild, and
 * every cold start would load the SDK whether it mirrors or discovers through Cloud Map or not.
 */
import type { ServiceDiscoveryClientConfig } from '@aws-sdk/client-servicediscovery';

/** Options of the client; region and credentials otherwise come from the Lambda environment. */
export interface CloudMapClientOptions {
  region: string;
  /** A local endpoint (moto); also turns off the `data-` host prefix of DiscoverInstances. */
  endpoint?: string;
  /** Attempts per call, the first included. Default 5. */
  maxAttempts?: number;
  /** Longest one attempt may take, request and response. Default 10 s. */
  requestTimeoutMs?: number;
  /** TCP connect limit of one attempt. Default 3 s. */
  connectionTimeoutMs?: number;
}

// A local endpoint is moto (the override exists for the local stage only), which checks no signature:
// static keys let it run where no AWS credentials exist, and keep real ones from being sent to it.
const FAKE_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

/** The servicediscovery client configuration for AWS or, with `endpoint`, a local fake. */
export function cloudMapClientConfig(opts: CloudMapClientOptions): ServiceDiscoveryClientConfig {
  const local = opts.endpoint !== undefined;
  return {
    region: opts.region,
    retryMode: 'standard',
    maxAttempts: opts.maxAttempts ?? 5,
    // Options, not a handler instance: the client builds its own NodeHttpHandler from them,
    // so we need no direct dependency on @smithy/node-http-handler. Without
    // throwOnRequestTimeout that handler only logs a warning when the timeout passes.
    requestHandler: {
      requestTimeout: opts.requestTimeoutMs ?? 10_000,
      throwOnRequestTimeout: true,
      connectionTimeout: opts.connectionTimeoutMs ?? 3_000,
    },
    ...(local ? { endpoint: opts.endpoint, disableHostPrefix: true } : {}),
    ...(local ? { credentials: FAKE_CREDENTIALS } : {}),
  };
}
