/** Wraps an HTTP handler: Lambda context in the logs, every error turned into a JSON response. */
import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { logger } from '../log/logger';
import { errorResponse } from './responses';

/** A handler body that returns a response or throws. */
export type HttpBody<E> = (event: E, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

/** Builds a Lambda handler that never throws and never leaks a stack trace. */
export function httpHandler<E>(body: HttpBody<E>): (event: E, context: Context) => Promise<APIGatewayProxyStructuredResultV2> {
  return async (event, context) => {
    logger.addContext(context);
    try {
      return await body(event, context);
    } catch (err) {
      return errorResponse(err);
    }
  };
}
