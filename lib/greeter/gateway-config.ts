/** The greeter gateway's configuration keys (greet and status functions). */
import * as z from 'zod/mini';
import { boolKey, enumKey, listKey, optionalNameKey, SERVICE_NAME, textKey, type ConfigValues, type KeySpecs } from '../config/key-specs';
import { CALL_KEYS } from '../runtime/gateway-keys';
import { runtimeKeys } from '../runtime/runtime-keys';

/** The greeter gateway's keys (greet and status functions): the Greeter's route, then the call-tuning keys every gateway function shares. */
export const GATEWAY_KEYS = {
  greeterService: {
    schema: textKey(SERVICE_NAME, 'must be a DNS-style service name'),
    default: 'greeter',
    doc: 'Consul service name of the Greeter backends',
  },
  greeterTag: { schema: optionalNameKey('tag'), default: '', doc: 'Only route to instances with this tag (empty: any)' },
  greeterDatacenter: {
    schema: optionalNameKey('datacenter'),
    default: '',
    doc: "Consul datacenter to discover in (empty: the agent's own)",
  },
  greeterFailoverDatacenters: {
    schema: listKey(optionalNameKey('datacenter').check(z.minLength(1, 'datacenter must not be empty')), 'datacenter', 0, 8),
    default: [],
    doc: 'Datacenters to route to, in order, while the first has no passing instance (comma list; empty: no failover)',
  },
  greeterTransport: {
    schema: enumKey(['plaintext', 'tls', 'connect'], "must be 'plaintext', 'tls' or 'connect'"),
    default: 'plaintext',
    doc: "How to reach the Greeters: 'plaintext' gRPC; 'tls' (server verified against GREETER_CACERT, else Node's default roots, and greeterTlsServerName); or 'connect' (Connect-native mTLS, authorized by intentions; discovers /v1/health/connect)",
  },
  greeterTlsServerName: {
    schema: textKey(
      /^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*)?$/,
      'must be empty or a DNS name',
    ),
    default: '',
    doc: "With greeterTransport=tls: the name every Greeter's certificate must carry (empty: <greeterService>.service.consul)",
  },
  exposeBackendAddress: {
    schema: boolKey(),
    default: false,
    doc: "Answer the serving backend's address and port in servedBy (false: its instance id only; the public /hello would map the private network)",
  },
  ...CALL_KEYS,
  ...runtimeKeys('greeter-gateway-lambda'),
} as const satisfies KeySpecs;

/** The gateway's effective, typed configuration. */
export type GatewayConfig = ConfigValues<typeof GATEWAY_KEYS>;
