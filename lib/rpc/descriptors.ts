/**
 * The descriptors the route transcodes with: every file under proto/ and its imports, compiled by buf at
 * `npm run proto:gen` into proto/gen/descriptor-set.ts and bundled with the function, read once per
 * execution environment into a @bufbuild/protobuf registry.
 */
import { create, createFileRegistry, fromBinary, type DescMethod, type DescService, type FileRegistry } from '@bufbuild/protobuf';
import {
  file_google_protobuf_any,
  file_google_protobuf_descriptor,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_wrappers,
  FileDescriptorSetSchema,
  MethodOptions_IdempotencyLevel,
  type FileDescriptorProto,
} from '@bufbuild/protobuf/wkt';
import { DESCRIPTOR_SET_BASE64 } from '../../proto/gen/descriptor-set';

/** One method as the route sees it. */
export interface RpcMethod {
  desc: DescMethod;
  service: DescService;
  /** `package.Service/Method`, as allow-lists name it. */
  name: string;
  /** The gRPC path, `/package.Service/Method`. */
  path: string;
  /** Marked NO_SIDE_EFFECTS or IDEMPOTENT: hedging and retries are allowed. */
  idempotent: boolean;
}

/** A registry of the shipped descriptors and the methods in it. */
export interface Descriptors {
  registry: FileRegistry;
  /** The file descriptors the registry was built from, imports first. */
  files: readonly FileDescriptorProto[];
  /** The method `name` of service `service` (full name), or undefined. */
  method(service: string, name: string): RpcMethod | undefined;
  /** Every method of every service, in file order. */
  methods(): RpcMethod[];
}

/** Whether retrying the method cannot do harm twice (pure). */
export function isIdempotent(m: DescMethod): boolean {
  return m.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS || m.idempotency === MethodOptions_IdempotencyLevel.IDEMPOTENT;
}

/** The well-known types a .proto may import, whose descriptors @bufbuild/protobuf ships (the generated set leaves them out). */
const WELL_KNOWN = [
  file_google_protobuf_any,
  file_google_protobuf_descriptor,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_wrappers,
];

/** Builds the registry from a base64 FileDescriptorSet (default: the one generated from proto/), with the well-known types added. */
export function loadDescriptors(base64: string = DESCRIPTOR_SET_BASE64): Descriptors {
  const set = fromBinary(FileDescriptorSetSchema, Buffer.from(base64, 'base64'));
  const named = new Set(set.file.map((f) => f.name));
  return descriptorsOf([...WELL_KNOWN.filter((f) => !named.has(f.proto.name)).map((f) => f.proto), ...set.file]);
}

/** `d` with `files` added after its own (files it already has by name are left out); throws when they do not resolve. */
export function withFiles(d: Descriptors, files: readonly FileDescriptorProto[]): Descriptors {
  const named = new Set(d.files.map((f) => f.name));
  return descriptorsOf([...d.files, ...files.filter((f) => !named.has(f.name))]);
}

function descriptorsOf(files: FileDescriptorProto[]): Descriptors {
  const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: files }));
  const byName = new Map<string, RpcMethod>();
  for (const type of registry) {
    if (type.kind !== 'service') continue;
    for (const desc of type.methods) {
      const name = `${type.typeName}/${desc.name}`;
      byName.set(name, { desc, service: type, name, path: `/${name}`, idempotent: isIdempotent(desc) });
    }
  }
  return {
    registry,
    files,
    method: (service, name) => byName.get(`${service}/${name}`),
    methods: () => [...byName.values()],
  };
}

let shipped: Descriptors | undefined;

/** The shipped descriptors, built on first use and kept for the life of the process. */
export function shippedDescriptors(): Descriptors {
  shipped ??= loadDescriptors();
  return shipped;
}
