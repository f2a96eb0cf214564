/**
 * helloworld.Greeter/SayHello as the generic invoker calls it, with ts-proto's codec (already in the
 * greet bundle; the descriptor set the rpc route decodes with is not). proto/helloworld.proto marks it
 * NO_SIDE_EFFECTS, so the rpc route hedges it as greet does; test/unit/greeter/say-hello.test.ts holds
 * the two equal.
 */
import { GreeterService, type HelloReply, type HelloRequest } from '../../proto/gen/helloworld';
import type { MethodName } from '../grpc/method-call-policy';
import type { UnaryMethod } from '../grpc/unary-call';

/** SayHello: idempotent, so hedged, tried again on a new channel and moved to a failover datacenter. */
export const SAY_HELLO: UnaryMethod<HelloRequest, HelloReply> = {
  service: 'helloworld.Greeter',
  method: 'SayHello',
  path: GreeterService.sayHello.path,
  idempotent: true,
  serialize: GreeterService.sayHello.requestSerialize,
  deserialize: GreeterService.sayHello.responseDeserialize,
};

/** The Greeter's methods its call policy hedges. */
export const SAY_HELLO_HEDGED: readonly MethodName[] = [{ service: SAY_HELLO.service, method: SAY_HELLO.method }];
