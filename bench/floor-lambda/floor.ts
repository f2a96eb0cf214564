/**
 * The floor Lambda of bench/cold-start/: the least a function that calls a Greeter
 * can do. It imports grpc-js and the generated client, dials one fixed address (no Consul,
 * no config, no lease) and makes one SayHello per invocation. Built with the same esbuild
 * settings as the packaged functions (package-floor.ts), so the cold-start ratio measures
 * what our design adds, not a different build.
 */
import { credentials, Metadata } from '@grpc/grpc-js';
import { GreeterClient, type HelloReply } from '../../proto/gen/helloworld';

// At module scope, as a minimal Lambda would: created during init, connected by the first call.
const client = new GreeterClient(process.env.FLOOR_GREETER_ADDR ?? '127.0.0.1:50051', credentials.createInsecure());

/** One SayHello to the fixed address, answered as an HTTP API response. */
export async function handler(event: {
  pathParameters?: { name?: string };
}): Promise<{ statusCode: number; headers: Record<string, string>; body: string }> {
  const name = event.pathParameters?.name ?? 'floor';
  const reply = await new Promise<HelloReply>((resolve, reject) =>
    client.sayHello({ name }, new Metadata(), { deadline: Date.now() + 2_000 }, (err, res) => (err ? reject(err) : resolve(res))),
  );
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ message: reply.message }),
  };
}
