/** HTTP: `GET /status` → effective config (with sources), discovered instances, Consul indexes. */
import { gatewayStatus } from '../lib/greeter/gateway-status';
import { createGatewayRuntime } from '../lib/greeter/gateway-runtime';
import { httpHandler } from '../lib/http/handler';
import { json } from '../lib/http/responses';
import { runtimeSlot } from '../lib/runtime/runtime-slot';

/** What this function keeps across warm invocations (see lib/greeter/gateway-runtime.ts). */
export const runtime = runtimeSlot(createGatewayRuntime);

export const handler = httpHandler(runtime, async (_event: unknown, _context, rt) => json(200, await gatewayStatus(rt)));
