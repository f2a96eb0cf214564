/**
 * The trace id of the invocation that is running, for the logger to stamp on the lines it writes.
 *
 * Set once per invocation (a field write) instead of Powertools' `appendKeys`, which merges and
 * indexes the key on every invocation, most of which log nothing at all: the id costs only when a
 * line is written. Scoped like Powertools' own per-invocation keys: when the runtime runs the
 * invocation inside Lambda's InvokeStore (the RIC's per-invocation context, an AsyncLocalStorage
 * when Lambda Managed Instances run invocations concurrently in one environment), the id lives in
 * that invocation's context; otherwise invocations run one after another and one slot is enough.
 */

// Our key in the InvokeStore context (a registered symbol, never one of Lambda's protected keys).
const TRACE_ID_KEY = Symbol.for('consul-grpc-lambda.trace_id');

/** The InvokeStore's calls we use (@aws/lambda-invoke-store; the RIC puts it on globalThis.awslambda). */
interface InvokeStoreLike {
  hasContext(): boolean;
  get(key: symbol): unknown;
  set(key: symbol, value: unknown): void;
}

/** Sequential invocations (or none in an InvokeStore context): the running one's id. */
let current: string | undefined;

function invocationStore(): InvokeStoreLike | undefined {
  const store = (globalThis as { awslambda?: { InvokeStore?: InvokeStoreLike } }).awslambda?.InvokeStore;
  return store?.hasContext() ? store : undefined;
}

/** Names the running invocation's trace (undefined: none, so its lines carry no trace_id); called at the start of every invocation. */
export function setInvocationTraceId(traceId: string | undefined): void {
  const store = invocationStore();
  if (store) store.set(TRACE_ID_KEY, traceId);
  else current = traceId;
}

/** The running invocation's trace id, if it has one. */
export function invocationTraceId(): string | undefined {
  const store = invocationStore();
  return store ? (store.get(TRACE_ID_KEY) as string | undefined) : current;
}
