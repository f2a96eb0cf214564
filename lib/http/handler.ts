/** Wraps an HTTP handler: Lambda context in the logs, the function's runtime, every error turned into a JSON answer. */
import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { Closable, RuntimeSlot } from '../runtime/runtime-slot';
import { errorResponse } from './error-response';

/** A handler body that gets the function's runtime and returns a response or throws. */
export type HttpBody<E, R> = (event: E, context: Context, rt: R) => Promise<APIGatewayProxyStructuredResultV2>;

/** Builds a Lambda handler that never throws and never leaks a stack trace. */
export function httpHandler<E, R extends Closable>(slot: RuntimeSlot<R>, body: HttpBody<E, R>): (event: E, context: Context) => Promise<APIGatewayProxyStructuredResultV2> {
  return async (event, context) => {
    slot.logger.addContext(context);
    try {
      return await body(event, context, slot.get());
    } catch (err) {
      return errorResponse(err, slot.logger);
    }
  };
}
