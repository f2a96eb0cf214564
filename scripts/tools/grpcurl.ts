/**
 * `npm run grpcurl -- <args>`: the pinned grpcurl (scripts/grpcurl-build/go.mod), built into
 * ~/.cache on first use, with the arguments as given, e.g.
 *   npm run grpcurl -- -plaintext 127.0.0.1:50051 grpc.health.v1.Health/Check
 */
import { ensureGrpcurlBinary } from '../grpcurl-binary';
import { runTool } from './run-tool';

runTool(
  ensureGrpcurlBinary((l) => console.error(l)),
  process.argv.slice(2),
  process.env,
);
