/** SayHello with retries on UNAVAILABLE within one overall deadline. */
import { setTimeout as sleep } from 'node:timers/promises';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
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
  maxAttempts: number;
  now?: () => number;
}

function sayHelloOnce(client: GreeterClient, name: string, deadline: number): Promise<{ reply: HelloReply; peer: string }> {
  return new Promise((resolve, reject) => {
    const call = client.sayHello({ name }, new Metadata(), { deadline }, (err: ServiceError | null, reply?: HelloReply) => {
      if (err) reject(err);
      else resolve({ reply: reply ?? { message: '' }, peer: call.getPeer() });
    });
  });
}

/**
 * Pause before retry `attempt` (2, 3, …): short and jittered. Without it a retry
 * at cold start lands on the only subchannel that is READY yet, which is often
 * the one that just failed; a few ms lets round robin see the others.
 */
export function retryDelayMs(attempt: number, random: () => number = Math.random): number {
  return backoffMs(attempt - 1, 20, 200, random);
}

function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as Partial<ServiceError>).code === 'number';
}

/**
 * Calls SayHello; an UNAVAILABLE answer is retried while attempts and time are
 * left (round robin sends the retry to the next ready instance). Throws
 * GreeterCallError classified as unavailable, deadline or backend.
 */
export async function sayHelloWithRetry(client: GreeterClient, name: string, opts: GreeterCallOptions): Promise<GreeterCallResult> {
  const now = opts.now ?? Date.now;
  let lastError: ServiceError | undefined;
  for (let attempt = 1; attempt <= opts.maxAttempts; attempt++) {
    if (now() >= opts.deadline) {
      throw new GreeterCallError('deadline', status.DEADLINE_EXCEEDED, attempt - 1, 'deadline passed before the backend answered', { cause: lastError });
    }
    try {
      const { reply, peer } = await sayHelloOnce(client, name, opts.deadline);
      return { reply, peer, attempts: attempt };
    } catch (err) {
      if (!isServiceError(err)) throw err;
      lastError = err;
      const kind = failureKind(err.code);
      const pause = retryDelayMs(attempt + 1);
      if (kind === 'unavailable' && attempt < opts.maxAttempts && now() + pause < opts.deadline) {
        await sleep(pause);
        continue;
      }
      throw new GreeterCallError(kind, err.code, attempt, err.details || err.message, { cause: err });
    }
  }
  // Unreachable while maxAttempts >= 1; kept for the type checker.
  throw new GreeterCallError('unavailable', status.UNAVAILABLE, opts.maxAttempts, 'no attempt made');
}
