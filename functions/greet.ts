/** HTTP: `GET /hello/{name}` and `POST /greet` → a Greeter backend discovered in Consul. */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { greet } from '../lib/greeter/greet';
import { nameFromBody, nameFromPath } from '../lib/greeter/greet-input';
import { httpHandler } from '../lib/http/handler';
import { json } from '../lib/http/responses';

export const handler = httpHandler<APIGatewayProxyEventV2>(async (event, context) => {
  const name = event.requestContext?.http?.method === 'POST' ? nameFromBody(event) : nameFromPath(event);
  return json(200, await greet(name, () => context.getRemainingTimeInMillis()));
});
