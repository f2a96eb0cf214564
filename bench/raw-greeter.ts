/**
 * Raw grpc-js, the baseline of the warm benches: a client to fixed loopback addresses (no Consul, no
 * hedging, no ejection) and one SayHello made as any grpc-js client makes it, with greet's own codec.
 */
import { Client, credentials, Metadata } from '@grpc/grpc-js';
import { SAY_HELLO } from '../lib/greeter/say-hello';

/** The deadline of every raw call. */
export const RAW_CALL_MS = 2_000;

/** A client to the Greeters on `ports` of 127.0.0.1: round robin over several, pick-first to one. */
export function rawClient(ports: readonly number[]): Client {
  const target = `ipv4:${ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
  const roundRobin = { 'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }) };
  return new Client(target, credentials.createInsecure(), ports.length > 1 ? roundRobin : {});
}

/** One SayHello on `client`; `entries` become its metadata. */
export function rawSayHello(client: Client, name: string, entries?: Readonly<Record<string, string>>): Promise<void> {
  const md = new Metadata();
  if (entries) for (const k in entries) md.set(k, entries[k] as string);
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      SAY_HELLO.path,
      SAY_HELLO.serialize,
      SAY_HELLO.deserialize,
      { name },
      md,
      { deadline: Date.now() + RAW_CALL_MS },
      (err) => (err ? reject(err) : resolve()),
    );
  });
}
