/**
 * One unary call of any method through a grpc-js channel, with the request and answer as bytes
 * encoded and decoded by @bufbuild/protobuf against the shipped descriptors. Failures are
 * GreeterCallError (the gRPC adapter's call error, classified the same way), so datacenter failover
 * (lib/grpc/datacenter-failover.ts) treats them as it treats the Greeter's.
 */
import { fromBinary, toBinary, type DescMessage, type Message } from '@bufbuild/protobuf';
import { Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import { GreeterCallError, failureKind } from '../grpc/errors';

/** A successful call. */
export interface UnaryResult {
  reply: Message;
  peer: string;
  attempts: number;
}

// grpc-js (gRFC A6) adds this to the answer of a call that needed more than one attempt.
const PREVIOUS_ATTEMPTS = 'grpc-previous-rpc-attempts';

function attemptsIn(metadata: Metadata | undefined): number | undefined {
  const previous = Number(metadata?.get(PREVIOUS_ATTEMPTS)[0]);
  return Number.isInteger(previous) && previous >= 0 ? previous + 1 : undefined;
}

/** Calls `path` with `request` until `deadline` (epoch ms); throws GreeterCallError whose cause is the grpc-js ServiceError. */
export function unaryCall(
  client: Client,
  path: string,
  request: Message,
  schemas: { input: DescMessage; output: DescMessage },
  opts: { deadline: number; metadata?: Readonly<Record<string, string>> },
): Promise<UnaryResult> {
  const metadata = new Metadata();
  if (opts.metadata) for (const key in opts.metadata) metadata.set(key, opts.metadata[key] as string);
  return new Promise((resolve, reject) => {
    let attempts = 1;
    const call = client.makeUnaryRequest<Message, Message>(
      path,
      (m) => Buffer.from(toBinary(schemas.input, m)),
      (bytes) => fromBinary(schemas.output, bytes),
      request,
      metadata,
      { deadline: opts.deadline },
      (err: ServiceError | null, reply?: Message) => {
        if (err) {
          const tried = attemptsIn(err.metadata) ?? attempts;
          reject(new GreeterCallError(failureKind(err.code), err.code, tried, err.details || err.message, { cause: err }));
        } else {
          resolve({ reply: reply as Message, peer: call.getPeer(), attempts });
        }
      },
    );
    call.on('metadata', (md: Metadata) => {
      attempts = attemptsIn(md) ?? 1;
    });
  });
}
