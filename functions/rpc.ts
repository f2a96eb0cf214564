/** HTTP: `POST /rpc/{package.Service}/{Method}` and the google.api.http routes of allowed methods → any gRPC service discovered in Consul. */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { httpHandler } from '../lib/http/handler';
import { json } from '../lib/http/responses';
import { rpcErrorResponse } from '../lib/http/rpc-error-response';
import { rpcRequestOf } from '../lib/http/rpc-event';
import { runtimeSlot } from '../lib/runtime/runtime-slot';
import { invokeRpc } from '../lib/rpc/invoke';
import { createRpcRuntime } from '../lib/rpc/rpc-runtime';

/** What this function keeps across warm invocations (see lib/rpc/rpc-runtime.ts). */
export const runtime = runtimeSlot(createRpcRuntime);

export const handler = httpHandler(
  runtime,
  async (event: APIGatewayProxyEventV2, context, rt, trace) => {
    const answer = await invokeRpc(rt, rpcRequestOf(event), () => context.getRemainingTimeInMillis(), trace);
    return json(200, answer.body);
  },
  rpcErrorResponse,
);
