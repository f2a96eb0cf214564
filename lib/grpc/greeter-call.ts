/**
 * One SayHello call within one overall deadline. Retries and hedges are
 * grpc-js's own (the channel's service config, see call-policy.ts): this
 * file reads how many attempts the call took and classifies failures, and
 * covers the one case the library cannot: on a new channel only the first
 * instance to connect is READY, and grpc-js sends the next attempt after an
 * UNAVAILABLE at once, so every attempt can land on that one instance.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Metadata, type ServiceError } from '@grpc/grpc-js';
import type { GreeterClient, HelloReply } from '../../proto/gen/helloworld';
import { backoffMs } from '../util/backoff';
import { GreeterCallError, failureKind } from './errors';

/** A successful call: the reply, the peer that sent it and how many attempts it took. */
export interface GreeterCallResult {
  reply: HelloReply;
  peer: string;
  attempts: number;
}

/** Options of one greet call. */
export interface GreeterCallOptions {
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
   * Trace context entries (traceparent, tracestate, x-amzn-trace-id). Set on the call's metadata, which
   * grpc-js resends with every hedged or retried attempt; a second try here builds it again.
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
 * Calls SayHello; throws GreeterCallError classified as unavailable, deadline or backend.
 * On a new channel, a call whose attempts were all refused is made once more after
 * 20–40 ms, time allowing, when the other instances have had time to connect, unless every
 * instance already refused (`allRefused`).
 */
export async function sayHello(client: GreeterClient, name: string, opts: GreeterCallOptions): Promise<GreeterCallResult> {
  try {
    return await callOnce(client, name, opts.deadline, opts.metadata);
  } catch (err) {
    const pause = backoffMs(2, 20, 40);
    if (
      !opts.newChannel ||
      !(err instanceof GreeterCallError) ||
      err.kind !== 'unavailable' ||
      Date.now() + pause >= opts.deadline ||
      opts.allRefused?.()
    )
      throw err;
    await sleep(pause);
    try {
      const second = await callOnce(client, name, opts.deadline, opts.metadata);
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

function callOnce(
  client: GreeterClient,
  name: string,
  deadline: number,
  entries?: Readonly<Record<string, string>>,
): Promise<GreeterCallResult> {
  return new Promise((resolve, reject) => {
    let attempts = 1;
    const call = client.sayHello({ name }, requestMetadata(entries), { deadline }, (err: ServiceError | null, reply?: HelloReply) => {
      if (err) {
        const tried = attemptsIn(err.metadata) ?? attempts;
        reject(new GreeterCallError(failureKind(err.code), err.code, tried, err.details || err.message, { cause: err }));
      } else {
        resolve({ reply: reply ?? { message: '' }, peer: call.getPeer(), attempts });
      }
    });
    call.on('metadata', (metadata: Metadata) => {
      attempts = attemptsIn(metadata) ?? 1;
    });
  });
}
