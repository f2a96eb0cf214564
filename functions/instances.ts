/**
 * REST (API-key protected): `POST /instances`, `PUT /instances/{id}/heartbeat`,
 * `DELETE /instances/{id}`, `GET /instances?service=…` — ephemeral workloads
 * without a Consul agent register themselves through this function.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { header, readJsonBody } from '../lib/http/event';
import { httpHandler } from '../lib/http/handler';
import { json, noContent } from '../lib/http/responses';
import { restRouter } from '../lib/http/routes';
import { list, register, remove, renew } from '../lib/registry/instances-api';
import { createRegistryRuntime, type RegistryRuntime } from '../lib/registry/registry-runtime';
import { parseInstanceId } from '../lib/registry/registration-request';
import { runtimeSlot, type RuntimeSlot } from '../lib/runtime/runtime-slot';

/** What this function keeps across warm invocations (see lib/registry/registry-runtime.ts). */
export const runtime = runtimeSlot(createRegistryRuntime);

// Each Consul call may wait out a leader election, within what the Lambda has left.
const consulBudgetMs = (remainingMs: number) => Math.max(2_000, Math.min(8_000, remainingMs - 1_000));

const route = restRouter({
  'POST /instances': 'register',
  'PUT /instances/{id}/heartbeat': 'heartbeat',
  'DELETE /instances/{id}': 'delete',
  'GET /instances': 'list',
});

/** The handler over `slot`; tests build several, as several warm execution environments. */
export const instancesHandler = (slot: RuntimeSlot<RegistryRuntime>) =>
  httpHandler(slot, async (event: APIGatewayProxyEvent, context, rt) => {
    // Routed, and the path id and body read, before any I/O: a request refused anyway costs no Consul round trip.
    const to = route(event);
    const id = to === 'heartbeat' || to === 'delete' ? parseInstanceId(event.pathParameters?.id) : '';
    const body = to === 'register' ? readJsonBody(event) : undefined;
    const budget = consulBudgetMs(context.getRemainingTimeInMillis());
    const token = header(event, 'x-lease-token');
    switch (to) {
      case 'register': {
        const idempotencyKey = header(event, 'idempotency-key');
        // The API key's id (never the key itself) scopes quotas and Idempotency-Keys; API Gateway sets it on private routes.
        const caller = event.requestContext?.identity?.apiKeyId ?? '';
        return json(201, await register(rt, idempotencyKey === undefined ? { body, caller } : { body, caller, idempotencyKey }, budget));
      }
      case 'heartbeat':
        return json(200, await renew(rt, id, token, budget));
      case 'delete':
        await remove(rt, id, token, budget);
        return noContent();
      case 'list':
        return json(200, { instances: await list(rt, event.queryStringParameters?.service, budget) });
    }
  });

export const handler = instancesHandler(runtime);
