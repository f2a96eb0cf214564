/**
 * gRPC server reflection as a source of descriptors (off by default: the `rpcReflection` key): the
 * files that define a service, asked of one of its backends over grpc.reflection.v1, with their
 * imports asked for by name until none is missing. Only services on the allow-list are ever asked
 * for, so reflection exposes nothing more than the list does.
 */
import { create, fromBinary, toBinary, type DescMessage, type Message } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import { Metadata, type Client } from '@grpc/grpc-js';
import type { Descriptors } from './descriptors';

const PATH = '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo';
/** Bounds the lookups of one service: its file, then its imports by name. */
const MAX_LOOKUPS = 32;

type Lookup = { case: 'fileContainingSymbol' | 'fileByFilename'; value: string };
type Response = Message & {
  messageResponse:
    | { case: 'fileDescriptorResponse'; value: { fileDescriptorProto: Uint8Array[] } }
    | { case: 'errorResponse'; value: { errorMessage: string } }
    | { case: undefined };
};

function schema(d: Descriptors, name: string): DescMessage {
  const m = d.registry.getMessage(name);
  if (!m) throw new Error(`descriptor set lacks ${name}`);
  return m;
}

/**
 * The files that define `service` and everything they import that `known` (file names already in the
 * registry) lacks, from the backend behind `client`, by `deadline`; rejects on an error answer or a
 * failed stream.
 */
export async function reflectService(
  client: Client,
  service: string,
  d: Descriptors,
  known: ReadonlySet<string>,
  deadline: number,
): Promise<FileDescriptorProto[]> {
  const request = schema(d, 'grpc.reflection.v1.ServerReflectionRequest');
  const response = schema(d, 'grpc.reflection.v1.ServerReflectionResponse');
  const call = client.makeBidiStreamRequest<Message, Response>(
    PATH,
    (m) => Buffer.from(toBinary(request, m)),
    (b) => fromBinary(response, b) as Response,
    new Metadata(),
    { deadline },
  );
  const answers: Response[] = [];
  const waiting: ((r: Response | Error) => void)[] = [];
  const deliver = (r: Response | Error) => {
    const next = waiting.shift();
    if (next) next(r);
    else if (!(r instanceof Error)) answers.push(r);
  };
  let failed: Error | undefined;
  call.on('data', (r: Response) => deliver(r));
  call.on('error', (err: Error) => {
    failed = err;
    for (const w of waiting.splice(0)) w(err);
  });
  const ask = (lookup: Lookup): Promise<Response> => {
    if (failed) return Promise.reject(failed);
    call.write(create(request, { messageRequest: lookup }));
    const ready = answers.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => waiting.push((r) => (r instanceof Error ? reject(r) : resolve(r))));
  };
  const files = new Map<string, FileDescriptorProto>();
  const wanted: Lookup[] = [{ case: 'fileContainingSymbol', value: service }];
  try {
    for (let n = 0; wanted.length; n++) {
      if (n >= MAX_LOOKUPS) throw new Error(`reflection of ${service} needed more than ${MAX_LOOKUPS} lookups`);
      const lookup = wanted.shift() as Lookup;
      const answer = (await ask(lookup)).messageResponse;
      if (answer.case !== 'fileDescriptorResponse')
        throw new Error(`reflection of ${lookup.value}: ${answer.case === 'errorResponse' ? answer.value.errorMessage : 'no file'}`);
      for (const bytes of answer.value.fileDescriptorProto) {
        const file = fromBinary(FileDescriptorProtoSchema, bytes);
        files.set(file.name, file);
      }
      for (const file of files.values())
        for (const dep of file.dependency)
          if (!files.has(dep) && !known.has(dep) && !wanted.some((w) => w.value === dep))
            wanted.push({ case: 'fileByFilename', value: dep });
    }
  } finally {
    call.end();
    call.cancel();
  }
  return [...files.values()].filter((f) => !known.has(f.name));
}
