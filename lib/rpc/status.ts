/**
 * google.rpc.Status answers in proto3 JSON, built as messages of the shipped descriptors and written
 * by @bufbuild/protobuf's toJson: a backend's status (with the typed details it sent in
 * `grpc-status-details-bin`) and the route's own failures (with a google.rpc.ErrorInfo naming the
 * stable code, and a google.rpc.BadRequest naming a wrong field).
 */
import { create, fromBinary, toJson, type DescMessage, type Message } from '@bufbuild/protobuf';
import { anyPack, type Any } from '@bufbuild/protobuf/wkt';
import type { Metadata } from '@grpc/grpc-js';
import type { Descriptors } from './descriptors';
import type { StatusJson } from './errors';

/** The domain of the ErrorInfo details the route itself attaches. */
export const ERROR_DOMAIN = 'consul-grpc-lambda';

function schema(d: Descriptors, name: string): DescMessage {
  const m = d.registry.getMessage(name);
  // proto/google/rpc/*.proto are part of the shipped set; without them the bundle was built wrong.
  if (!m) throw new Error(`descriptor set lacks ${name}`);
  return m;
}

/**
 * The status a backend sent: its code and message, and the details of `grpc-status-details-bin` that
 * the descriptors know (a detail of an unknown type is left out: it cannot be written as JSON).
 */
export function backendStatus(d: Descriptors, code: number, message: string, trailers: Metadata | undefined): StatusJson {
  const status = schema(d, 'google.rpc.Status');
  const raw = trailers?.get('grpc-status-details-bin')[0];
  let details: Any[] = [];
  if (raw instanceof Buffer) {
    try {
      const sent = fromBinary(status, raw) as Message & { details: Any[] };
      details = sent.details.filter((a) => d.registry.getMessage(a.typeUrl.slice(a.typeUrl.lastIndexOf('/') + 1)) !== undefined);
    } catch {
      // Undecodable details: the code and message still stand.
    }
  }
  return toJson(status, create(status, { code, message, details }), { registry: d.registry }) as StatusJson;
}

/** A status of the route's own: `reason` as a google.rpc.ErrorInfo, and `field` (if any) as a google.rpc.BadRequest violation. */
export function ownStatus(d: Descriptors, code: number, message: string, reason: string, field?: string): StatusJson {
  const errorInfo = schema(d, 'google.rpc.ErrorInfo');
  const badRequest = schema(d, 'google.rpc.BadRequest');
  const details = [anyPack(errorInfo, create(errorInfo, { reason, domain: ERROR_DOMAIN }))];
  if (field) {
    const violation = { field, description: message };
    details.push(anyPack(badRequest, create(badRequest, { fieldViolations: [violation] })));
  }
  const status = schema(d, 'google.rpc.Status');
  return toJson(status, create(status, { code, message, details }), { registry: d.registry }) as StatusJson;
}
