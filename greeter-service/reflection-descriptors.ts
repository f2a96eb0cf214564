/**
 * File descriptors for gRPC server reflection that strict clients accept.
 *
 * proto-loader gets its FileDescriptorProtos from protobufjs' descriptor
 * conversion, which names the implicit entry type of a `map<K, V> foo_bar`
 * field `Foo_bar` instead of protoc's `FooBarEntry` (protobufjs ext/descriptor
 * `Field#toDescriptor`, unchanged up to protobufjs 8.8). protobuf-go, and so
 * grpcurl, rejects such a file whole ("incorrect implicit map entry name"),
 * which made every symbol in grpc/health/v1/health.proto (its
 * HealthListResponse.statuses map) unresolvable, Health/Check included. No
 * loader option changes that name, and the alternative, a descriptor set
 * compiled by buf and committed next to the protos, would be a second source
 * of truth to keep in sync. So the descriptors are loaded as usual and only
 * the map entry names are rewritten to the rule every protoc-compatible
 * compiler uses.
 */
import * as protoLoader from '@grpc/proto-loader';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  type DescriptorProto,
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
} from '@bufbuild/protobuf/wkt';

/** protoc's implicit entry type name for a map field: `foo_bar` -> `FooBarEntry`. */
export function mapEntryName(fieldName: string): string {
  let out = '';
  let upperNext = true;
  for (const c of fieldName) {
    if (c === '_') {
      upperNext = true;
    } else {
      out += upperNext ? c.toUpperCase() : c;
      upperNext = false;
    }
  }
  return `${out}Entry`;
}

function lastSegment(typeName: string): string {
  return typeName.slice(typeName.lastIndexOf('.') + 1);
}

function renameMapEntries(message: DescriptorProto): void {
  for (const nested of message.nestedType) renameMapEntries(nested);
  for (const field of message.field) {
    if (field.type !== FieldDescriptorProto_Type.MESSAGE || field.label !== FieldDescriptorProto_Label.REPEATED) continue;
    const current = lastSegment(field.typeName);
    const entry = message.nestedType.find((n) => n.options?.mapEntry === true && n.name === current);
    if (!entry) continue;
    const wanted = mapEntryName(field.name);
    entry.name = wanted;
    field.typeName = field.typeName.slice(0, field.typeName.length - current.length) + wanted;
  }
}

function isTypeDefinition(
  def: protoLoader.AnyDefinition,
): def is protoLoader.MessageTypeDefinition<object, object> | protoLoader.EnumTypeDefinition {
  return 'format' in def && typeof def.format === 'string' && Array.isArray(def.fileDescriptorProtos);
}

function fixFileDescriptor(encoded: Buffer): Buffer {
  const file = fromBinary(FileDescriptorProtoSchema, encoded);
  file.messageType.forEach(renameMapEntries);
  return Buffer.from(toBinary(FileDescriptorProtoSchema, file));
}

/** Loads proto files like proto-loader, but with map entry names grpcurl and other protobuf-go clients accept; for ReflectionService. */
export function loadReflectionDefinition(protoFiles: string[]): protoLoader.PackageDefinition {
  // Without keepCase, protobufjs camel-cases field names and the descriptors would not match the .proto.
  const loaded = protoLoader.loadSync(protoFiles, { keepCase: true });
  // Every type definition shares the same descriptor buffers, so each file is fixed once.
  const fixed = new Map<Buffer, Buffer>();
  const fix = (b: Buffer): Buffer => {
    let out = fixed.get(b);
    if (!out) fixed.set(b, (out = fixFileDescriptor(b)));
    return out;
  };
  const result: protoLoader.PackageDefinition = {};
  for (const [name, def] of Object.entries(loaded)) {
    result[name] = isTypeDefinition(def) ? { ...def, fileDescriptorProtos: def.fileDescriptorProtos.map(fix) } : def;
  }
  return result;
}
