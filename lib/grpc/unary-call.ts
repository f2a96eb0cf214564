/**
 * One unary call of any method within one overall deadline, the request and answer encoded by the
 * method's own codec (ts-proto's for the Greeter, @bufbuild/protobuf's descriptors for the rpc route).
 * Retries and hedges are grpc-js's own (the channel's service config, see call-policy.ts): this file
 * reads how many attempts the call took and classifies failures, and covers the one case the library
 * cannot: on a new channel only the first instance to connect is READY, and grpc-js sends the next
 * attempt after an UNAVAILABLE at once, so every attempt can land on that one instance.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import { backoffMs } from '../util/backoff';
import { GreeterCallError, failureKind } from './errors';

/** A unary method and how its messages go over the wire. */
export interface UnaryMethod<Req, Res> {
  /** The gRPC service's full name (`helloworld.Greeter`), as a hedging policy names it. */
  service: string;
  /** The method's name (`SayHello`). */
  method: string;
  /** The gRPC path, `/package.Service/Method`. */
  path: string;
  /** Marked NO_SIDE_EFFECTS or IDEMPOTENT: it may run twice (hedging, a second try, another datacenter). */
  idempotent: boolean;
  serialize: (request: Req) => Buffer;
  deserialize: (bytes: Buffer) => Res;
}

/** A successful call: the reply, the peer that sent it and how many attempts it took. */
export interface UnaryResult<Res> {
  reply: Res;
  peer: string;
  attempts: number;
}

/** Options of one call. */
export interface UnaryCallOptions {
  /** Absolute deadline (epoch ms) covering every attempt. */
  deadline: number;
  /** The channel was just created: its other instances may still be connecting. */
  newChannel?: boolean;
  /**
   * True when the channel has no instance left to connect to (TRANSIENT_FAILURE: every one refused).
   * A second try on a new channel would meet the same refusals, so the call ends at once and a
   * failover datacenter, if any, takes it.
   */
  allRefused?: () => boolean;
  /**
   * Metadata entries (trace context, forwarded headers). Set on the call's metadata, which grpc-js
   * resends with every hedged or retried attempt; a second try here builds it again.
   */
  metadata?: Readonly<Record<string, string>>;
}

// grpc-js (gRFC A6) adds this to the answer of a call that needed more than one attempt.
const PREVIOUS_ATTEMPTS = 'grpc-previous-rpc-attempts';

function attemptsIn(metadata: Metadata | undefined): number | undefined {
  const previous = Number(metadata?.get(PREVIOUS_ATTEMPTS)[0]);
  return Number.isInteger(previous) && previous >= 0 ? previous + 1 : undefined;
}

/**
 * Calls `method`; throws GreeterCallError classified as unavailable, deadline, permission_denied or backend,
 * whose cause is the grpc-js ServiceError (its trailers included). An idempotent method on a new channel
 * whose attempts were all UNAVAILABLE goes once more after 20–40 ms, unless every instance already
 * refused (`allRefused`) or the pause would reach the deadline.
 */
export async function unaryCall<Req, Res>(
  client: Client,
  method: UnaryMethod<Req, Res>,
  request: Req,
  opts: UnaryCallOptions,
): Promise<UnaryResult<Res>> {
  try {
    return await callOnce(client, method, request, opts);
  } catch (err) {
    const pause = backoffMs(2, 20, 40);
    if (
      !method.idempotent ||
      !opts.newChannel ||
      !(err instanceof GreeterCallError) ||
      err.kind !== 'unavailable' ||
      Date.now() + pause >= opts.deadline ||
      opts.allRefused?.()
    )
      throw err;
    await sleep(pause);
    try {
      const second = await callOnce(client, method, request, opts);
      return { ...second, attempts: second.attempts + err.attempts };
    } catch (again) {
      if (!(again instanceof GreeterCallError)) throw again;
      throw new GreeterCallError(again.kind, again.grpcCode, again.attempts + err.attempts, again.message, { cause: again.cause });
    }
  }
}

function requestMetadata(entries: Readonly<Record<string, string>> | undefined): Metadata {
  const metadata = new Metadata();
  if (entries) for (const key in entries) metadata.set(key, entries[key] as string);
  return metadata;
}

function callOnce<Req, Res>(
  client: Client,
  method: UnaryMethod<Req, Res>,
  request: Req,
  opts: UnaryCallOptions,
): Promise<UnaryResult<Res>> {
  return new Promise((resolve, reject) => {
    let attempts = 1;
    const call = withoutCallerStack(() =>
      client.makeUnaryRequest<Req, Res>(
        method.path,
        method.serialize,
        method.deserialize,
        request,
        requestMetadata(opts.metadata),
        { deadline: opts.deadline },
        (err: ServiceError | null, reply?: Res) => {
          if (err) {
            const tried = attemptsIn(err.metadata) ?? attempts;
            reject(new GreeterCallError(failureKind(err.code), err.code, tried, err.details || err.message, { cause: err }));
          } else {
            resolve({ reply: reply as Res, peer: call.getPeer(), attempts });
          }
        },
      ),
    );
    call.on('metadata', (metadata: Metadata) => {
      attempts = attemptsIn(metadata) ?? 1;
    });
  });
}

/**
 * Runs `start` (synchronous) with V8's stack capture off. grpc-js makes a `new Error()` at the start of
 * every unary call only to append the caller's stack to the error of a call that fails; V8 captures that
 * stack then and there, async frames included, which cost 10–25 µs per call (bench:layers), several
 * percent of a warm greet. Our caller is always callOnce, so that stack would say nothing the
 * GreeterCallError does not. grpc-js has no option for it; the limit is restored before anything else runs.
 */
function withoutCallerStack<T>(start: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return start();
  } finally {
    Error.stackTraceLimit = limit;
  }
}
