/**
 * The Greeter backend: helloworld.Greeter plus the standard gRPC health and
 * reflection services, so Consul's gRPC check and tools like grpcurl work.
 */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import { GreeterService, type GreeterServer, type HelloReply } from '../proto/gen/helloworld';
import { callTrace, type CallTrace } from './call-trace';
import { loadReflectionDefinition } from './reflection-descriptors';

export const GREETER_SERVICE_NAME = 'helloworld.Greeter';
const GREETER_PROTO = path.resolve(__dirname, '../proto/helloworld.proto');
// Reflection describes only the files it is given, so its own protos are added
// for clients (grpcurl list) to see the reflection service like any other.
const REFLECTION_PROTO_DIR = path.resolve(path.dirname(require.resolve('@grpc/reflection')), '../proto/grpc/reflection');
const REFLECTION_PROTOS = ['v1', 'v1alpha'].map((v) => path.join(REFLECTION_PROTO_DIR, v, 'reflection.proto'));

export interface GreeterServerOptions {
  host?: string;
  /** 0 lets the OS pick a free port; the handle reports the real one. */
  port: number;
  instanceId: string;
  latencyMs?: number;
  /** Share (0..1) of valid calls answered with UNAVAILABLE, for failover tests. */
  failRate?: number;
  /** gRPC status of injected failures (default UNAVAILABLE), to test non-retryable errors. */
  failCode?: grpc.status;
  /** Server credentials (default: plaintext); Connect-native mode passes mTLS ones. */
  credentials?: grpc.ServerCredentials;
  /** Decides each Greeter call before it is served: a string is the reason to answer PERMISSION_DENIED. */
  authorize?: (call: grpc.ServerUnaryCall<unknown, unknown>) => Promise<string | undefined>;
  /** Told of every SayHello that carries a trace context, as it arrives (before any latency). */
  onTracedCall?: (trace: CallTrace) => void;
}

export interface GreeterServerHandle {
  port: number;
  setServing(serving: boolean): void;
  shutdown(drainMs: number): Promise<void>;
  inFlight(): number;
}

/** Formats host:port for gRPC and Consul, bracketing IPv6 literals. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

function validate(opts: GreeterServerOptions): void {
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    throw new RangeError(`port must be an integer in 0..65535, got ${opts.port}`);
  }
  if (opts.instanceId.trim() === '') throw new RangeError('instanceId must not be empty');
  const { latencyMs = 0, failRate = 0 } = opts;
  if (!Number.isFinite(latencyMs) || latencyMs < 0) throw new RangeError('latencyMs must be >= 0');
  if (!(failRate >= 0 && failRate <= 1)) throw new RangeError('failRate must be within 0..1');
}

/** Starts a Greeter gRPC server (with health + reflection) and resolves once it listens. */
export async function startGreeterServer(opts: GreeterServerOptions): Promise<GreeterServerHandle> {
  validate(opts);
  const { host = '127.0.0.1', instanceId, latencyMs = 0, failRate = 0, failCode = grpc.status.UNAVAILABLE } = opts;
  let active = 0;

  // Start NOT_SERVING so nothing is routed here before the port is bound.
  const health = new HealthImplementation({ '': 'NOT_SERVING', [GREETER_SERVICE_NAME]: 'NOT_SERVING' });
  const setServing = (serving: boolean): void => {
    const status = serving ? 'SERVING' : 'NOT_SERVING';
    health.setStatus('', status);
    health.setStatus(GREETER_SERVICE_NAME, status);
  };

  const { onTracedCall } = opts;
  const serve: GreeterServer['sayHello'] = (call, callback) => {
    active++;
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const trace = callTrace(call.metadata);
    if (trace) onTracedCall?.(trace);
    const respond = (): void => {
      if (done) return;
      done = true;
      active--;
      // Errors go out trailers-only: a client may retry or hedge a call only until it has seen headers.
      const trailer = new grpc.Metadata();
      trailer.set('x-instance-id', instanceId);
      // Asked for by tests and operators: shows which trace id arrived here.
      if (trace?.traceId && call.metadata.get('x-reflect-trace')[0] === '1') trailer.set('x-trace-id', trace.traceId);
      const name = call.request.name.trim();
      if (name === '') {
        callback({ code: grpc.status.INVALID_ARGUMENT, details: 'name must not be empty', metadata: trailer });
      } else if (Math.random() < failRate) {
        callback({ code: failCode, details: `injected failure on ${instanceId}`, metadata: trailer });
      } else {
        const reply: HelloReply = { message: `Hello, ${name}! (from ${instanceId})` };
        call.sendMetadata(trailer.clone());
        callback(null, reply, trailer);
      }
    };
    // A cancelled or force-closed call must not keep counting as in flight.
    call.on('cancelled', () => {
      if (timer) clearTimeout(timer);
      if (!done) {
        done = true;
        active--;
      }
    });
    if (latencyMs > 0) timer = setTimeout(respond, latencyMs);
    else respond();
  };

  const { authorize } = opts;
  const sayHello: GreeterServer['sayHello'] = !authorize
    ? serve
    : (call, callback) => {
        authorize(call).then(
          (denied) => {
            if (denied === undefined) return serve(call, callback);
            const trailer = new grpc.Metadata();
            trailer.set('x-instance-id', instanceId);
            callback({ code: grpc.status.PERMISSION_DENIED, details: denied, metadata: trailer });
          },
          // Consul could not say: refuse, but as a failure another instance may not share.
          (err: unknown) =>
            callback({
              code: grpc.status.UNAVAILABLE,
              details: `authorization unavailable: ${err instanceof Error ? err.message : String(err)}`,
            }),
        );
      };

  const server = new grpc.Server();
  server.addService(GreeterService, { sayHello } satisfies GreeterServer);
  health.addToServer(server);
  new ReflectionService(loadReflectionDefinition([GREETER_PROTO, healthProtoPath, ...REFLECTION_PROTOS])).addToServer(server);

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(hostPort(host, opts.port), opts.credentials ?? grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    );
  });
  setServing(true);

  let closing: Promise<void> | undefined;
  const shutdown = (drainMs: number): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      setServing(false);
      // Drain gracefully, but never let a stuck client hold the process past drainMs.
      const timer = setTimeout(
        () => {
          server.forceShutdown();
          resolve();
        },
        Math.max(0, drainMs),
      );
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return closing;
  };

  return { port, setServing, shutdown, inFlight: () => active };
}
