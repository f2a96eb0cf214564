/**
 * The stack the warm benches (warm, tracing, layers) run greet in-process against: a real Consul with
 * ACLs, the function's config under `prefix` with discovery re-polling at once, and two real Greeter
 * processes, with this process's environment pointed at it.
 */
import type { GreeterBackend } from '../scripts/stack/greeters';
import { startFunctionStack, useFunctionEnvironment, type FunctionStack } from '../scripts/stack/function-stack';

/** Starts the stack with `config` over the bench defaults and a Greeter for each of the two ids; stops it again if any of that fails. */
export async function startWarmStack(
  prefix: string,
  greeterIds: readonly [string, string],
  config: Record<string, string> = {},
): Promise<{ stack: FunctionStack; greeters: [GreeterBackend, GreeterBackend] }> {
  const stack = await startFunctionStack(prefix);
  try {
    await stack.setConfig({ discoveryMinIntervalMs: '0', ...config });
    // greet sends trace context, so the Greeters would log one line per call into pipes this very
    // process reads: a cost a deployed gateway never pays (the tracing bench names it), silenced.
    process.env.GREETER_LOG_TRACED_CALLS = '0';
    const first = await stack.addGreeter({ id: greeterIds[0] });
    const second = await stack.addGreeter({ id: greeterIds[1] });
    useFunctionEnvironment(stack);
    return { stack, greeters: [first, second] };
  } catch (err) {
    await stack.stop();
    throw err;
  }
}
