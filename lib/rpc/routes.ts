/**
 * Which method an HTTP request names (pure): `POST /rpc/{package.Service}/{Method}` for any method, and
 * the routes of google.api.http annotations (path template, body field, query parameters), additional
 * bindings included. Built once per set of descriptors.
 */
import { getOption, hasOption, type DescExtension } from '@bufbuild/protobuf';
import type { Descriptors, RpcMethod } from './descriptors';
import { matchPathTemplate, parsePathTemplate, type PathTemplate } from './path-template';

/** The prefix of the generic route. */
export const GENERIC_PREFIX = '/rpc/';

/** How a matched request maps onto the method's input message. */
export interface RouteMatch {
  method: RpcMethod;
  /** Variables bound by the path, by proto field path. */
  pathParams: Record<string, string>;
  /** `*`: the body is the whole input; a field name: the body is that field; empty: no body (query parameters fill the rest). */
  body: string;
  /** The annotated template that matched (undefined: the generic route). */
  template?: string;
}

interface AnnotatedRoute {
  httpMethod: string;
  template: PathTemplate;
  body: string;
  method: RpcMethod;
}

/** The HTTP rule's fields the route reads (the message is dynamic: its shape comes from proto/google/api/http.proto). */
interface HttpRuleShape {
  pattern: { case: string | undefined; value?: unknown };
  body: string;
  additionalBindings: HttpRuleShape[];
}

/** The annotated routes of `descriptors`' methods; a bad template throws PathTemplateError naming it. */
function annotatedRoutes(descriptors: Descriptors): AnnotatedRoute[] {
  const ext = descriptors.registry.getExtension('google.api.http');
  if (!ext) return [];
  // A dynamic extension: its value is a message of the registry's google.api.HttpRule.
  const http = ext as DescExtension & Parameters<typeof getOption>[1];
  const routes: AnnotatedRoute[] = [];
  for (const method of descriptors.methods()) {
    if (!hasOption(method.desc, http)) continue;
    const rule = getOption(method.desc, http) as unknown as HttpRuleShape;
    for (const r of [rule, ...rule.additionalBindings]) {
      const { case: verb, value } = r.pattern;
      if (!verb) continue;
      const [httpMethod, path] =
        verb === 'custom'
          ? [String((value as { kind: string }).kind).toUpperCase(), String((value as { path: string }).path)]
          : [verb.toUpperCase(), String(value)];
      routes.push({ httpMethod, template: parsePathTemplate(path), body: r.body, method });
    }
  }
  return routes;
}

/** Finds the method for requests; `match` is undefined when no route fits. */
export interface RouteTable {
  match(httpMethod: string, path: string): RouteMatch | undefined;
  /** The annotated routes, as `METHOD template → package.Service/Method` lines (for /status and docs). */
  describe(): string[];
}

/** The route table of `descriptors`. */
export function buildRouteTable(descriptors: Descriptors): RouteTable {
  const annotated = annotatedRoutes(descriptors);
  return {
    match(httpMethod, path) {
      const verb = httpMethod.toUpperCase();
      if (path.startsWith(GENERIC_PREFIX)) {
        const [service, name, ...rest] = path.slice(GENERIC_PREFIX.length).split('/');
        if (verb !== 'POST' || !service || !name || rest.length) return undefined;
        const method = descriptors.method(service, name);
        return method ? { method, pathParams: {}, body: '*' } : undefined;
      }
      for (const r of annotated) {
        if (r.httpMethod !== verb) continue;
        const pathParams = matchPathTemplate(r.template, path);
        if (pathParams) return { method: r.method, pathParams, body: r.body, template: r.template.source };
      }
      return undefined;
    },
    describe: () => annotated.map((r) => `${r.httpMethod} ${r.template.source} → ${r.method.name}`),
  };
}
