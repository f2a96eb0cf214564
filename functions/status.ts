/** HTTP: `GET /status` → effective config (with sources), discovered instances, Consul indexes. */
import { gatewayStatus } from '../lib/greeter/gateway-status';
import { httpHandler } from '../lib/http/handler';
import { json } from '../lib/http/responses';

export const handler = httpHandler(async () => json(200, await gatewayStatus()));
