/** HTTP: `GET /hello/{name}` and `POST /greet` → a Greeter backend discovered in Consul. */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createGatewayRuntime } from '../lib/greeter/gateway-runtime';
import { greet } from '../lib/greeter/greet';
import { greetNameFromBody, parseGreetName } from '../lib/greeter/greet-name';
import { readJsonBody } from '../lib/http/event';
import { httpHandler } from '../lib/http/handler';
import { json } from '../lib/http/responses';
import { runtimeSlot } from '../lib/runtime/runtime-slot';

/** What this function keeps across warm invocations (see lib/greeter/gateway-runtime.ts). */
export const runtime = runtimeSlot(createGatewayRuntime);

export const handler = httpHandler(runtime, async (event: APIGatewayProxyEventV2, context, rt, trace) => {
  const name =
    event.requestContext?.http?.method === 'POST' ? greetNameFromBody(readJsonBody(event)) : parseGreetName(event.pathParameters?.name);
  return json(200, await greet(rt, name, () => context.getRemainingTimeInMillis(), trace));
});
