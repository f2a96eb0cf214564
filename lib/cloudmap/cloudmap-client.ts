/**
 * The Cloud Map client with the SDK loaded statically, for tooling and tests. Bundled code builds its
 * client from a dynamically imported SDK and `cloudMapClientConfig` instead, so that loading a bundle
 * never loads the SDK.
 */
import { ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import { cloudMapClientConfig, type CloudMapClientOptions } from './cloudmap-client-config';

export { cloudMapClientConfig, type CloudMapClientOptions } from './cloudmap-client-config';

/** Creates a servicediscovery client for AWS or, with `endpoint`, a local fake. */
export function createCloudMapClient(opts: CloudMapClientOptions): ServiceDiscoveryClient {
  return new ServiceDiscoveryClient(cloudMapClientConfig(opts));
}
