/**
 * The model of a Consul → Cloud Map mirror: what Consul says should exist, what
 * Cloud Map has, and the actions that turn one into the other. No SDK types
 * here, so planning stays pure and testable without AWS.
 */

/** A health status we can push with UpdateInstanceCustomHealthStatus. */
export type CustomHealth = 'HEALTHY' | 'UNHEALTHY';

/** A health status Cloud Map reports; UNKNOWN when it has none for an instance. */
export type HealthStatus = CustomHealth | 'UNKNOWN';

/** One Consul service instance as it should appear in Cloud Map. */
export interface DesiredInstance {
  /** Unique within its service; becomes the Cloud Map InstanceId. */
  id: string;
  ipv4: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
  healthy: boolean;
}

/** One Consul service and all of its instances (passing or not). */
export interface DesiredService {
  name: string;
  instances: DesiredInstance[];
}

/** An instance as Cloud Map lists it. */
export interface ActualInstance {
  id: string;
  attributes: Record<string, string>;
  health: HealthStatus;
}

/** A service in the namespace as Cloud Map lists it. */
export interface ActualService {
  id: string;
  name: string;
  description?: string;
  /** True when created with HealthCheckCustomConfig; only then can we push health. */
  customHealth: boolean;
  /** Undefined when not read (services we do not own are not looked into). */
  instances?: ActualInstance[];
}

/** Everything read from one namespace, with the API calls it took. */
export interface CloudMapState {
  namespaceId: string;
  services: ActualService[];
  calls: Record<string, number>;
}

/** Create a service carrying our ownership marker and a custom health check config. */
export interface CreateServiceAction {
  kind: 'createService';
  serviceName: string;
  namespaceId: string;
  description: string;
}

/** Register a new instance, or re-register one whose attributes changed. */
export interface RegisterInstanceAction {
  kind: 'registerInstance';
  serviceName: string;
  /** Undefined when the service is created by the same plan; apply resolves it by name. */
  serviceId?: string;
  instanceId: string;
  attributes: Record<string, string>;
  reason: 'new' | 'changed';
  /** Consul tags and meta entries that did not fit Cloud Map's attribute limits. */
  droppedAttributes: number;
}

/** Remove an instance that left Consul. */
export interface DeregisterInstanceAction {
  kind: 'deregisterInstance';
  serviceName: string;
  serviceId: string;
  instanceId: string;
}

/** Push a custom health status that differs from what Cloud Map has. */
export interface UpdateHealthAction {
  kind: 'updateHealth';
  serviceName: string;
  serviceId?: string;
  instanceId: string;
  status: CustomHealth;
  /** What Cloud Map reported; undefined for an instance registered by the same plan. */
  previous?: HealthStatus;
}

/** A same-named service exists without our marker: it and its instances are left alone. */
export interface SkipForeignServiceAction {
  kind: 'skipForeignService';
  serviceName: string;
  serviceId: string;
  description?: string;
}

/** One step of a sync plan. */
export type SyncAction =
  CreateServiceAction | RegisterInstanceAction | DeregisterInstanceAction | UpdateHealthAction | SkipForeignServiceAction;

/** True for actions that call a Cloud Map write API. */
export function isWriteAction(a: SyncAction): boolean {
  return a.kind !== 'skipForeignService';
}
