/**
 * `npm run consul -- <args>`: the pinned Consul CLI pointed at the local stack. CONSUL_HTTP_ADDR
 * (and CONSUL_CACERT / CONSUL_CLIENT_CERT / CONSUL_CLIENT_KEY) from the environment if set, else
 * the running stack's (its stack.env in LOCAL_STACK_DIR or .local-stack/), else the CLI's own
 * default http://127.0.0.1:8500. The token is the caller's: e.g.
 *   CONSUL_HTTP_TOKEN=$(cat .local-stack/management-token) npm run consul -- members
 */
import { ensureConsulBinary } from '../consul-binary';
import { runTool } from './run-tool';
import { readStackState } from './stack-state';

const env = { ...process.env };
if (!env.CONSUL_HTTP_ADDR?.trim()) {
  const stack = readStackState();
  env.CONSUL_HTTP_ADDR = stack?.CONSUL_HTTP_ADDR ?? 'http://127.0.0.1:8500';
  // The stack's certificates go with the stack's address only.
  for (const k of ['CONSUL_CACERT', 'CONSUL_CLIENT_CERT', 'CONSUL_CLIENT_KEY'] as const) if (stack?.[k] && !env[k]) env[k] = stack[k];
}
runTool(
  ensureConsulBinary((l) => console.error(l)),
  process.argv.slice(2),
  env,
);
