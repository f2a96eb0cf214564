/** Wraps an HTTP handler: Lambda context in the logs, the function's runtime, every error turned into a JSON answer. */
import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { setInvocationTraceId } from '../log/invocation-trace';
import type { Closable, RuntimeSlot } from '../runtime/runtime-slot';
import type { TraceContext } from '../tracing/trace-context';
import { errorResponse } from './error-response';
import { type HttpEventLike } from './event';
import { traceOfEvent } from './trace-headers';

/** A handler body that gets the function's runtime and the invocation's trace (undefined: propagation off), and returns a response or throws. */
export type HttpBody<E, R> = (
  event: E,
  context: Context,
  rt: R,
  trace: TraceContext | undefined,
) => Promise<APIGatewayProxyStructuredResultV2>;

/** Builds a Lambda handler that never throws and never leaks a stack trace; `onError` shapes error answers (default: errorResponse). */
export function httpHandler<E, R extends Closable>(
  slot: RuntimeSlot<R>,
  body: HttpBody<E, R>,
  onError: (err: unknown, log: RuntimeSlot<R>['logger']) => APIGatewayProxyStructuredResultV2 = errorResponse,
): (event: E, context: Context) => Promise<APIGatewayProxyStructuredResultV2> {
  return async (event, context) => {
    slot.logger.addContext(context);
    const trace = traceOfEvent((event ?? {}) as HttpEventLike);
    // Every line of this invocation carries the W3C id beside Powertools' xray_trace_id (our logger adds it as it writes one).
    setInvocationTraceId(trace?.traceId);
    try {
      return await body(event, context, slot.get(), trace);
    } catch (err) {
      return onError(err, slot.logger);
    }
  };
}
