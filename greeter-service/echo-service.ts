/**
 * The Echo backend (proto/echo/v1/echo.proto): a second real service for the generic HTTP route,
 * with the standard gRPC health and reflection services (so Consul's gRPC check and grpcurl work).
 * Messages are encoded and decoded by @bufbuild/protobuf against the shipped descriptor set; grpcurl,
 * the reference client of the tests, decodes with protobuf-go.
 */
import * as grpc from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { create, fromBinary, toBinary, type DescMessage, type Message } from '@bufbuild/protobuf';
import { anyPack, FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { echoDescriptors, EXTRA_SERVICE_NAME } from './echo-extra';
import { hostPort } from './server';

export const ECHO_SERVICE_NAME = 'echo.v1.Echo';

/** Metadata keys the transport adds; Echo answers only what the caller chose to send. */
const TRANSPORT_KEYS = new Set(['user-agent', 'grpc-accept-encoding', 'grpc-encoding', 'te', 'content-type', 'grpc-timeout']);

/** Options of one Echo server. */
export interface EchoServerOptions {
  host?: string;
  port: number;
  instanceId: string;
  credentials?: grpc.ServerCredentials;
  /** Share (0..1) of echo calls answered UNAVAILABLE, to show which methods the gateway retries. */
  failRate?: number;
  /** Decides each call first (Connect-native): a string is the reason to answer PERMISSION_DENIED. */
  authorize?: (call: grpc.ServerUnaryCall<unknown, unknown>) => Promise<string | undefined>;
}

/** A running Echo server. */
export interface EchoServerHandle {
  port: number;
  setServing(serving: boolean): void;
  shutdown(drainMs: number): Promise<void>;
}

type Dyn = Message & Record<string, unknown>;

function schema(name: string): DescMessage {
  const m = echoDescriptors().registry.getMessage(name);
  if (!m) throw new Error(`descriptor set lacks ${name}`);
  return m;
}

/** The reflection root: every file of the shipped registry, well-known types included (protoc's map entry names, which grpcurl requires). */
function reflectionRoot(): PackageDefinition {
  const fileDescriptorProtos = [...echoDescriptors().registry.files].map((f) => Buffer.from(toBinary(FileDescriptorProtoSchema, f.proto)));
  // @grpc/reflection reads only `fileDescriptorProtos` of each entry.
  return { files: { fileDescriptorProtos } } as unknown as PackageDefinition;
}

/** The trailers of a failure that carries a google.rpc.Status with typed details. */
function failureTrailers(code: number, message: string, withDetails: boolean, instanceId: string): grpc.Metadata {
  const trailers = new grpc.Metadata();
  trailers.set('x-instance-id', instanceId);
  if (!withDetails) return trailers;
  const info = schema('google.rpc.ErrorInfo');
  const bad = schema('google.rpc.BadRequest');
  const status = schema('google.rpc.Status');
  const details = [
    anyPack(info, create(info, { reason: 'ECHO_FAILED', domain: 'echo.v1', metadata: { code: String(code) } })),
    anyPack(bad, create(bad, { fieldViolations: [{ field: 'code', description: 'the caller asked for this status' }] })),
  ];
  trailers.set('grpc-status-details-bin', Buffer.from(toBinary(status, create(status, { code, message, details }))));
  return trailers;
}

/** Starts an Echo server (with health and reflection) and resolves once it listens. */
export async function startEchoServer(opts: EchoServerOptions): Promise<EchoServerHandle> {
  const { host = '127.0.0.1', instanceId, authorize, failRate = 0 } = opts;
  const request = schema('echo.v1.EchoRequest');
  const response = schema('echo.v1.EchoResponse');
  const failRequest = schema('echo.v1.FailRequest');
  const health = new HealthImplementation({ '': 'NOT_SERVING', [ECHO_SERVICE_NAME]: 'NOT_SERVING' });
  const setServing = (serving: boolean) => {
    for (const s of ['', ECHO_SERVICE_NAME]) health.setStatus(s, serving ? 'SERVING' : 'NOT_SERVING');
  };
  const reply = (req: Dyn, md: grpc.Metadata, index = 0): Message => {
    const metadata: Record<string, string> = {};
    if (req.echoMetadata)
      for (const [k, v] of Object.entries(md.getMap())) if (!TRANSPORT_KEYS.has(k) && typeof v === 'string') metadata[k] = v;
    return create(response, { echoed: req, servedBy: instanceId, metadata, index });
  };
  const method = (name: string, input: DescMessage, responseStream = false) => ({
    path: `/${ECHO_SERVICE_NAME}/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: (m: Message) => Buffer.from(toBinary(input, m)),
    requestDeserialize: (b: Buffer) => fromBinary(input, b),
    responseSerialize: (m: Message) => Buffer.from(toBinary(response, m)),
    responseDeserialize: (b: Buffer) => fromBinary(response, b),
  });
  const definition: grpc.ServiceDefinition = {
    Say: method('Say', request),
    Get: method('Get', request),
    Update: method('Update', request),
    Fail: method('Fail', failRequest),
    Expand: method('Expand', request, true),
    Secret: method('Secret', request),
  };
  const guarded =
    (serve: grpc.handleUnaryCall<Dyn, Message>): grpc.handleUnaryCall<Dyn, Message> =>
    (call, callback) => {
      if (!authorize) return serve(call, callback);
      authorize(call).then(
        (denied) => (denied === undefined ? serve(call, callback) : callback({ code: grpc.status.PERMISSION_DENIED, details: denied })),
        (err: unknown) => callback({ code: grpc.status.UNAVAILABLE, details: `authorization unavailable: ${String(err)}` }),
      );
    };
  const echo = guarded((call, callback) =>
    Math.random() < failRate
      ? callback({
          code: grpc.status.UNAVAILABLE,
          details: `injected failure on ${instanceId}`,
          metadata: failureTrailers(14, '', false, instanceId),
        })
      : callback(null, reply(call.request, call.metadata)),
  );
  const server = new grpc.Server();
  server.addService(definition, {
    Say: echo,
    Get: echo,
    Update: echo,
    Secret: echo,
    Fail: guarded((call, callback) => {
      const code = Number(call.request.code);
      const message = String(call.request.message || 'failed on request');
      if (!(code >= 1 && code <= 16))
        return callback({ code: grpc.status.INVALID_ARGUMENT, details: 'code must be a gRPC status code 1..16' });
      // Trailers-only, as every error here: a client may retry or hedge a call only until it has seen headers.
      callback({ code, details: message, metadata: failureTrailers(code, message, Boolean(call.request.withDetails), instanceId) });
    }),
    Expand: (call: grpc.ServerWritableStream<Dyn, Message>) => {
      const count = Math.min(100, Math.max(0, Number(call.request.count)));
      for (let i = 0; i < count; i++) call.write(reply(call.request, call.metadata, i));
      call.end();
    },
  } as grpc.UntypedServiceImplementation);
  const ping = schema('extra.v1.PingRequest');
  const pong = schema('extra.v1.PingReply');
  server.addService(
    {
      Ping: {
        path: `/${EXTRA_SERVICE_NAME}/Ping`,
        requestStream: false,
        responseStream: false,
        requestSerialize: (m: Message) => Buffer.from(toBinary(ping, m)),
        requestDeserialize: (b: Buffer) => fromBinary(ping, b),
        responseSerialize: (m: Message) => Buffer.from(toBinary(pong, m)),
        responseDeserialize: (b: Buffer) => fromBinary(pong, b),
      },
    },
    {
      Ping: guarded((call, callback) =>
        callback(null, create(pong, { text: call.request.text, at: call.request.at, servedBy: instanceId })),
      ),
    } as grpc.UntypedServiceImplementation,
  );
  health.addToServer(server);
  new ReflectionService(reflectionRoot(), { services: [ECHO_SERVICE_NAME, EXTRA_SERVICE_NAME, 'grpc.health.v1.Health'] }).addToServer(
    server,
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(hostPort(host, opts.port), opts.credentials ?? grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  setServing(true);
  let closing: Promise<void> | undefined;
  return {
    port,
    setServing,
    shutdown(drainMs) {
      closing ??= new Promise<void>((resolve) => {
        setServing(false);
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, drainMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      return closing;
    },
  };
}
