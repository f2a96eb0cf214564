/**
 * REST (API-key protected): `POST /instances`, `PUT /instances/{id}/heartbeat`,
 * `DELETE /instances/{id}`, `GET /instances?service=…` — ephemeral workloads
 * without a Consul agent register themselves through this function.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { RequestError } from '../lib/http/errors';
import { header, readJsonBody } from '../lib/http/event';
import { httpHandler } from '../lib/http/handler';
import { json, noContent } from '../lib/http/responses';
import { deleteInstance, heartbeat, listInstances, registerInstance } from '../lib/registry/instance-registry';
import { listQuery, policyFromConfig } from '../lib/registry/registry-policy';
import { createRegistryRuntime, type RegistryRuntime } from '../lib/registry/registry-runtime';
import { parseInstanceId, parseRegistration } from '../lib/registry/registration-request';
import { runtimeSlot, type RuntimeSlot } from '../lib/runtime/runtime-slot';

/** What this function keeps across warm invocations (see lib/registry/registry-runtime.ts). */
export const runtime = runtimeSlot(createRegistryRuntime);

// Each Consul call may wait out a leader election, within what the Lambda has left.
const consulBudgetMs = (remainingMs: number) => Math.max(2_000, Math.min(8_000, remainingMs - 1_000));

const ROUTES = {
  'POST /instances': 'register',
  'PUT /instances/{id}/heartbeat': 'heartbeat',
  'DELETE /instances/{id}': 'delete',
  'GET /instances': 'list',
} as const;
type Route = (typeof ROUTES)[keyof typeof ROUTES];

function route(event: APIGatewayProxyEvent): Route {
  const key = `${event.httpMethod} ${event.resource}`;
  if (!Object.hasOwn(ROUTES, key)) throw new RequestError('method_not_allowed', 'method not allowed on this resource');
  return ROUTES[key as keyof typeof ROUTES];
}

/** The handler over `slot`; tests build several, as several warm execution environments. */
export const instancesHandler = (slot: RuntimeSlot<RegistryRuntime>) =>
  httpHandler(slot, async (event: APIGatewayProxyEvent, context, rt) => {
    // Routed, and the path id checked, before any I/O: a wrong method or a malformed id costs no Consul round trip.
    const to = route(event);
    const id = to === 'heartbeat' || to === 'delete' ? parseInstanceId(event.pathParameters?.id) : '';
    const { deps, loaded } = await rt.beginRegistry(consulBudgetMs(context.getRemainingTimeInMillis()));
    const token = header(event, 'x-lease-token');
    switch (to) {
      case 'register': {
        const reg = parseRegistration(readJsonBody(event), policyFromConfig(loaded.values));
        const key = header(event, 'idempotency-key');
        // The API key's id (never the key itself) scopes quotas and Idempotency-Keys; API Gateway sets it on private routes.
        const caller = event.requestContext?.identity?.apiKeyId ?? '';
        return json(201, await registerInstance(deps, reg, key === undefined ? { caller } : { caller, key }));
      }
      case 'heartbeat':
        return json(200, await heartbeat(deps, id, token));
      case 'delete':
        await deleteInstance(deps, id, token);
        return noContent();
      case 'list':
        return json(200, { instances: await listInstances(deps, listQuery(event.queryStringParameters?.service, loaded.values)) });
    }
  });

export const handler = instancesHandler(runtime);
