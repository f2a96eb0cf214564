/** Consul's view of the mirrored services as the Cloud Map desired state (pure). */
import { isIPv4 } from 'node:net';
import type { InstanceHealth } from '../consul/health';
import type { DesiredService } from '../cloudmap/types';
import { EXTERNAL_SOURCE } from './reverse-plan';

/** Instances become Cloud Map instances; only IPv4 addresses can be mirrored (AWS_INSTANCE_IPV4). */
export function desiredServices(byService: ReadonlyMap<string, readonly InstanceHealth[]>): {
  services: DesiredService[];
  skipped: string[];
} {
  const skipped: string[] = [];
  const services = [...byService.entries()].map(([name, entries]) => ({
    name,
    instances: entries.flatMap(({ instance, status }) => {
      // Imported from Cloud Map by the reverse sync: mirroring it back would loop.
      if (instance.meta[EXTERNAL_SOURCE.key] === EXTERNAL_SOURCE.value) return [];
      // Cloud Map instance ids: at most 64 of [0-9a-zA-Z_/:.@-]; anything else would fail every run.
      if (!/^[0-9a-zA-Z_/:.@-]{1,64}$/.test(instance.id)) {
        skipped.push(`${name}/${instance.id}: id is not a valid Cloud Map instance id (64 characters at most)`);
        return [];
      }
      if (!isIPv4(instance.address)) {
        skipped.push(`${name}/${instance.id}: address ${instance.address} is not IPv4`);
        return [];
      }
      return [
        {
          id: instance.id,
          ipv4: instance.address,
          port: instance.port,
          tags: instance.tags,
          meta: instance.meta,
          healthy: status === 'passing',
        },
      ];
    }),
  }));
  return { services, skipped };
}
