/**
 * Routing of a REST function (API Gateway payload v1): `METHOD /resource`, where the resource is API
 * Gateway's template (`/instances/{id}`), names what the handler does. Pure, so a handler routes before
 * any I/O and a request no route takes costs no round trip to anything.
 */
import { RequestError } from './errors';

/** The fields routing reads. */
export interface RestRouteEvent {
  httpMethod?: string;
  resource?: string;
}

/** A router over `routes` (`'POST /instances': 'register'`, …): the route's name, or a 405 METHOD_NOT_ALLOWED RequestError. */
export function restRouter<const R extends Record<string, string>>(routes: R): (event: RestRouteEvent) => R[keyof R] {
  return (event) => {
    const key = `${event.httpMethod} ${event.resource}`;
    if (!Object.hasOwn(routes, key)) throw new RequestError('method_not_allowed', 'method not allowed on this resource');
    return routes[key] as R[keyof R];
  };
}
