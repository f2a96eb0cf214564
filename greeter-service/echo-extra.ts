/**
 * A service that proto/ does not ship, served beside Echo: the generic route can learn it only by
 * server reflection (the rpcReflection key). Its file descriptor is built here rather than in a
 * .proto under proto/, precisely so that the route's bundle does not carry it. Its idempotency level
 * comes through reflection; its HTTP annotation does not with this server: @grpc/reflection re-encodes
 * each file with descriptor types that know no google.api extension, and drops it.
 */
import { create, setExtension, type DescExtension, type DescMessage } from '@bufbuild/protobuf';
import {
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
  FileDescriptorProtoSchema,
  MethodOptions_IdempotencyLevel,
  MethodOptionsSchema,
  type FileDescriptorProto,
} from '@bufbuild/protobuf/wkt';
import { shippedDescriptors, withFiles, type Descriptors } from '../lib/rpc/descriptors';

export const EXTRA_SERVICE_NAME = 'extra.v1.Extra';

const field = (name: string, number: number, jsonName: string, type: Type, typeName?: string) => ({
  name,
  number,
  jsonName,
  type,
  label: Label.OPTIONAL,
  ...(typeName ? { typeName } : {}),
});

/** extra/v1/extra.proto: `rpc Ping(PingRequest) returns (PingReply)`, GET /v1/extra/{text}, NO_SIDE_EFFECTS. */
function extraFile(shipped: Descriptors): FileDescriptorProto {
  const http = shipped.registry.getExtension('google.api.http') as DescExtension;
  const rule = shipped.registry.getMessage('google.api.HttpRule') as DescMessage;
  const options = create(MethodOptionsSchema, { idempotencyLevel: MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS });
  // A dynamic extension and message of the shipped registry: typed only as descriptors.
  const set = setExtension as (message: unknown, extension: DescExtension, value: unknown) => void;
  set(options, http, create(rule, { pattern: { case: 'get', value: '/v1/extra/{text}' } }));
  return create(FileDescriptorProtoSchema, {
    name: 'extra/v1/extra.proto',
    package: 'extra.v1',
    syntax: 'proto3',
    dependency: ['google/api/annotations.proto', 'google/protobuf/timestamp.proto'],
    messageType: [
      {
        name: 'PingRequest',
        field: [field('text', 1, 'text', Type.STRING), field('at', 2, 'at', Type.MESSAGE, '.google.protobuf.Timestamp')],
      },
      {
        name: 'PingReply',
        field: [
          field('text', 1, 'text', Type.STRING),
          field('at', 2, 'at', Type.MESSAGE, '.google.protobuf.Timestamp'),
          field('served_by', 3, 'servedBy', Type.STRING),
        ],
      },
    ],
    service: [
      { name: 'Extra', method: [{ name: 'Ping', inputType: '.extra.v1.PingRequest', outputType: '.extra.v1.PingReply', options }] },
    ],
  });
}

let descriptors: Descriptors | undefined;

/** The shipped descriptors with extra/v1/extra.proto added: what the Echo process serves and reflects. */
export function echoDescriptors(): Descriptors {
  descriptors ??= (() => {
    const shipped = shippedDescriptors();
    return withFiles(shipped, [extraFile(shipped)]);
  })();
  return descriptors;
}
