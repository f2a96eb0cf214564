/** One grpc.health.v1 Check call against an instance, with a deadline, saying why it failed. */
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { HealthCheckResponse_ServingStatus, HealthClient, type HealthCheckResponse } from '../../proto/gen/grpc/health/v1/health';

/** A probe result and the reason, written into the Consul check output. */
export interface ProbeResult {
  ok: boolean;
  output: string;
}

/** Calls Health/Check on `address:port` for `service` ('' = the whole server). */
export function probeGrpcHealth(address: string, port: number, service: string, timeoutMs: number): Promise<ProbeResult> {
  const host = address.includes(':') ? `[${address}]` : address;
  // A short-lived channel per probe: probes run once a minute, and a local pool
  // keeps a dead instance's connection state out of other probes.
  const client = new HealthClient(`${host}:${port}`, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  return new Promise<ProbeResult>((resolve) => {
    client.check(
      { service },
      new Metadata(),
      { deadline: Date.now() + timeoutMs },
      (err: ServiceError | null, res?: HealthCheckResponse) => {
        client.close();
        if (err) {
          const why =
            err.code === status.DEADLINE_EXCEEDED ? `no answer within ${timeoutMs} ms` : (err.details || err.message).slice(0, 200);
          resolve({ ok: false, output: `grpc.health.v1 Check failed: ${status[err.code] ?? err.code}: ${why}` });
          return;
        }
        const st = res?.status ?? HealthCheckResponse_ServingStatus.UNKNOWN;
        const name = HealthCheckResponse_ServingStatus[st] ?? String(st);
        resolve({ ok: st === HealthCheckResponse_ServingStatus.SERVING, output: `grpc.health.v1 Check: ${name}` });
      },
    );
  });
}
