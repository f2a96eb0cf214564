import { after, before, it } from 'node:test';
import { handler as greetHandler } from '../../functions/greet';
import { resetGatewayRuntime } from '../../lib/greeter/gateway-runtime';
import { stopProcess } from '../../scripts/stack/processes';
import { httpEvent, lambdaContext, startTestStack, useFunctionEnvironment, type TestStack } from './harness';
let stack: TestStack;
before(async () => {
  stack = await startTestStack();
  for (const id of ['k1', 'k2', 'k3']) await stack.addGreeter({ id });
  useFunctionEnvironment(stack);
});
after(async () => { resetGatewayRuntime(); await stack?.stop(); });
it('dbg', async () => {
  let stop = false;
  const stats: Record<string, number> = {};
  const worker = async (w: number) => {
    for (let i = 0; !stop; i++) {
      const t0 = Date.now();
      const r = await Promise.race([greetHandler(httpEvent('GET', { name: `w${w}-${i}` }), lambdaContext()), new Promise<{statusCode: number, body: string}>((res) => setTimeout(() => res({ statusCode: 999, body: 'HUNG' }), 5000))]);
      const k = `${r.statusCode}`;
      stats[k] = (stats[k] ?? 0) + 1;
      if (r.statusCode !== 200) console.log('non-200', w, i, Date.now() - t0, r.body);
      if (r.statusCode === 999) return;
    }
  };
  const ws = [1, 2, 3, 4].map(worker);
  await new Promise((r) => setTimeout(r, 1000));
  console.log('killing k2');
  await stopProcess(stack.greeters[1]!.process, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 3000));
  stop = true;
  await Promise.all(ws);
  console.log(stats);
});
