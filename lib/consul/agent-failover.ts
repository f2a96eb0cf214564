/**
 * Which Consul agent a call goes to, and when it moves on. CONSUL_HTTP_ADDR may list several agents (client
 * agents, or servers with no load balancer in front): a call that gets no answer from one moves on to the next
 * within its one budget, and later calls stay where it moved. An answer never moves a call, an error status
 * included, and neither does a TLS failure (it is not a missing answer: it fails closed). A 5xx is retried in
 * place, with backoff, only when the caller asks for it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffMs } from '../util/backoff';
import { ConsulRequestError, ConsulTimeoutError } from './errors';

/** Per-call options shared by every operation. */
export interface CallOptions {
  /** The whole budget of the call, every address tried included. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** A blocking query: one address gets the whole budget (a long poll is not a hang). */
  blocking?: boolean;
  /**
   * Retry a 5xx answer (no leader yet, or a forward to a leader that just died) with
   * backoff while the budget lasts: for writes that must not fail over an election.
   */
  retryServerErrors?: boolean;
}

/** Least time an attempt gets before the call moves on to the next address. */
export const MIN_ATTEMPT_MS = 250;

/** One attempt at the address numbered `index`, which gets `timeoutMs` of the call's budget. */
export type AgentAttempt<T> = (index: number, timeoutMs: number) => Promise<T>;

/** The failover state of one ConsulApi over `count` addresses: the one in use, and how many times calls moved on. */
export class AgentFailover {
  private current = 0;
  private moves = 0;

  constructor(private readonly count: number) {}

  /** The index of the address calls go to now. */
  get index(): number {
    return this.current;
  }

  /** How many times a call moved on to the next address. */
  get failovers(): number {
    return this.moves;
  }

  /** Runs one call within `budgetMs`, every address and every retry of a 5xx included; throws the last attempt's error. */
  async run<T>(opts: CallOptions, budgetMs: number, attempt: AgentAttempt<T>): Promise<T> {
    const deadline = Date.now() + budgetMs;
    for (let serverErrors = 1; ; serverErrors++) {
      try {
        return await this.acrossAgents(opts, deadline, attempt);
      } catch (err) {
        const pause = backoffMs(serverErrors, 50, 1_000);
        const serverError = err instanceof ConsulRequestError && (err.statusCode ?? 0) >= 500;
        if (!opts.retryServerErrors || !serverError || opts.signal?.aborted || Date.now() + pause + MIN_ATTEMPT_MS > deadline) throw err;
        await sleep(pause);
      }
    }
  }

  // An address that does not answer gets its share of what is left, then the call moves on; the address it
  // moved to is kept for later calls (unless another call moved meanwhile).
  private async acrossAgents<T>(opts: CallOptions, deadline: number, attempt: AgentAttempt<T>): Promise<T> {
    for (let tried = 1; ; tried++) {
      const i = this.current;
      const left = deadline - Date.now();
      const untried = this.count - tried + 1;
      const share = opts.blocking || untried <= 1 ? left : Math.max(MIN_ATTEMPT_MS, Math.floor(left / untried));
      try {
        return await attempt(i, share);
      } catch (err) {
        if (tried >= this.count || !isUnreachable(err) || opts.signal?.aborted || deadline - Date.now() < MIN_ATTEMPT_MS / 2) throw err;
        if (this.current === i) {
          this.current = (i + 1) % this.count;
          this.moves++;
        }
      }
    }
  }
}

/** True when the address did not answer at all (refused, reset, timed out), so another one may. */
export function isUnreachable(err: unknown): boolean {
  if (err instanceof ConsulTimeoutError) return !/aborted/.test(err.message);
  return (
    err instanceof ConsulRequestError &&
    err.statusCode === undefined &&
    /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EPIPE|socket hang up/i.test(err.message)
  );
}
