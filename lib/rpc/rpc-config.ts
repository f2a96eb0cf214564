/** The generic route's configuration keys (the rpc function), read from its own K/V prefix. */
import * as z from 'zod/mini';
import { boolKey, listKey, type ConfigValues, type KeySpecs } from '../config/key-specs';
import { CALL_KEYS } from '../runtime/gateway-keys';
import { runtimeKeys } from '../runtime/runtime-keys';
import { ALLOW_ENTRY, forbiddenHeader } from './exposure';
import { serviceMapProblem } from './service-map';

// zod/mini loads no locale: every rule names its message.
const headerName = z.string().check(
  z.toLowerCase(),
  z.regex(/^[a-z0-9][a-z0-9-]*$/, 'each header must be a lower-case token'),
  z.superRefine((name, ctx) => {
    const why = forbiddenHeader(name);
    if (why) ctx.addIssue({ code: 'custom', input: name, message: `may not be forwarded: ${why}` });
  }),
);

/** The rpc function's keys: exposure and the service map, then the call-tuning keys every gateway function shares. */
export const RPC_KEYS = {
  rpcAllow: {
    schema: listKey(
      z.string().check(z.regex(ALLOW_ENTRY, 'each entry must be package.Service/Method or package.Service/*')),
      'method',
      0,
      500,
    ),
    default: ['helloworld.Greeter/SayHello'],
    doc: 'Methods the route may call (comma list of package.Service/Method or package.Service/*); any other answers 404',
  },
  rpcServices: {
    schema: z.string().check(
      z.trim(),
      z.superRefine((raw, ctx) => {
        const why = raw === '' ? undefined : serviceMapProblem(raw);
        if (why) ctx.addIssue({ code: 'custom', input: raw, message: why });
      }),
    ),
    default: '{}',
    doc: 'JSON map from gRPC service to {service, tag, datacenter, failoverDatacenters, transport, tlsServerName}; unmapped: the kebab-case simple name, plaintext',
  },
  rpcForwardHeaders: {
    schema: listKey(headerName, 'header', 0, 50),
    default: [],
    doc: 'Request headers passed on as gRPC metadata (comma list; never authorization, x-api-key, hop-by-hop or x-amzn-*)',
  },
  rpcReflection: {
    schema: boolKey(),
    default: false,
    doc: 'Ask backends for the descriptors of allow-listed services that proto/ does not ship (server reflection, once per execution environment)',
  },
  ...CALL_KEYS,
  ...runtimeKeys('rpc-gateway-lambda'),
} as const satisfies KeySpecs;

/** The rpc function's effective, typed configuration. */
export type RpcConfig = ConfigValues<typeof RPC_KEYS>;
