/**
 * Carries out a sync plan against Cloud Map with bounded concurrency.
 *
 * Services are created first, because their new ids are only known from the
 * CreateService answer; instance actions then find the id by service name.
 * Actions on one instance run in plan order (register before its health push)
 * while different instances run in parallel. A failed action is reported and
 * the rest go on; retries on throttling and 5xx are the SDK's (standard mode).
 * Register/deregister are asynchronous operations in Cloud Map; we do not wait
 * for them, the next run reads the outcome.
 */
import {
  CreateServiceCommand,
  DeregisterInstanceCommand,
  RegisterInstanceCommand,
  UpdateInstanceCustomHealthStatusCommand,
  type ServiceDiscoveryClient,
} from '@aws-sdk/client-servicediscovery';
import { errorSummary, type Log } from '../log/logger';
import { forEachBounded } from '../util/bounded';
import { CallCounter } from './call-counter';
import { CloudMapRequestError } from './errors';
import type { CreateServiceAction, SyncAction } from './types';

/** How to apply a plan. */
export interface ApplyOptions {
  /** Most Cloud Map calls in flight. */
  concurrency: number;
  /** Count what would be done and make no write call. */
  dryRun?: boolean;
  log: Log;
}

/** An action that failed and why. */
export interface ApplyError {
  action: SyncAction;
  message: string;
}

/** What an apply did (or, in a dry run, would do). */
export interface ApplySummary {
  created: number;
  registered: number;
  deregistered: number;
  healthChanges: number;
  skipped: number;
  errors: ApplyError[];
  durationMs: number;
  /** Calls per operation; SDK retries inside a call are counted in `retries`. */
  calls: Record<string, number>;
  retries: number;
}

type InstanceAction = Exclude<SyncAction, CreateServiceAction | { kind: 'skipForeignService' }>;

/** The Cloud Map API operation behind each instance action, for errors. */
const OPERATION: Record<InstanceAction['kind'], string> = {
  registerInstance: 'RegisterInstance',
  deregisterInstance: 'DeregisterInstance',
  updateHealth: 'UpdateInstanceCustomHealthStatus',
};
// Every failure is in the summary; logging each would flood the log when a whole run fails.
const LOGGED_ERRORS = 5;

/** Applies `actions` (from planSync) and returns what was done. */
export async function applyPlan(client: ServiceDiscoveryClient, actions: readonly SyncAction[], opts: ApplyOptions): Promise<ApplySummary> {
  const started = Date.now();
  const summary: ApplySummary = {
    created: 0,
    registered: 0,
    deregistered: 0,
    healthChanges: 0,
    skipped: 0,
    errors: [],
    durationMs: 0,
    calls: {},
    retries: 0,
  };
  const counter = new CallCounter();
  const fail = (action: SyncAction, err: unknown) => {
    summary.errors.push({ action, message: errorSummary(err).message });
    if (summary.errors.length <= LOGGED_ERRORS) {
      opts.log.warn('Cloud Map sync action failed', {
        kind: action.kind,
        serviceName: action.serviceName,
        instanceId: 'instanceId' in action ? action.instanceId : undefined,
        error: errorSummary(err),
      });
    }
  };

  const creates = actions.filter((a): a is CreateServiceAction => a.kind === 'createService');
  const groups = groupByInstance(actions.filter((a): a is InstanceAction => a.kind !== 'createService' && a.kind !== 'skipForeignService'));
  summary.skipped = actions.filter((a) => a.kind === 'skipForeignService').length;

  if (opts.dryRun) {
    summary.created = creates.length;
    for (const a of groups.flat()) count(summary, a);
  } else {
    const createdIds = new Map<string, string>();
    await forEachBounded(creates, opts.concurrency, async (a) => {
      try {
        const out = await counter.track('CreateService', () =>
          client.send(
            new CreateServiceCommand({
              Name: a.serviceName,
              NamespaceId: a.namespaceId,
              Description: a.description,
              HealthCheckCustomConfig: {},
            }),
          ),
        );
        if (!out.Service?.Id) throw new CloudMapRequestError('CreateService', 'answer carried no service id');
        createdIds.set(a.serviceName, out.Service.Id);
        summary.created++;
      } catch (err) {
        fail(a, err);
      }
    });

    await forEachBounded(groups, opts.concurrency, async (group) => {
      for (const [i, a] of group.entries()) {
        try {
          const serviceId = a.serviceId ?? createdIds.get(a.serviceName);
          if (serviceId === undefined)
            throw new CloudMapRequestError(OPERATION[a.kind], `service ${a.serviceName} has no id (creating it failed)`);
          await run(client, counter, a, serviceId);
          count(summary, a);
        } catch (err) {
          fail(a, err);
          // Later steps for this instance assume this one happened (a health push needs the instance).
          for (const rest of group.slice(i + 1))
            fail(rest, new CloudMapRequestError(OPERATION[rest.kind], `not attempted: the ${a.kind} before it failed`));
          return;
        }
      }
    });
  }

  summary.calls = counter.calls;
  summary.retries = counter.retries;
  summary.durationMs = Date.now() - started;
  const { errors, ...figures } = summary;
  opts.log.info(opts.dryRun ? 'Cloud Map sync planned (dry run)' : 'Cloud Map sync applied', { ...figures, errors: errors.length });
  return summary;
}

async function run(client: ServiceDiscoveryClient, counter: CallCounter, a: InstanceAction, serviceId: string): Promise<void> {
  switch (a.kind) {
    case 'registerInstance':
      await counter.track('RegisterInstance', () =>
        client.send(new RegisterInstanceCommand({ ServiceId: serviceId, InstanceId: a.instanceId, Attributes: a.attributes })),
      );
      return;
    case 'deregisterInstance':
      try {
        await counter.track('DeregisterInstance', () =>
          client.send(new DeregisterInstanceCommand({ ServiceId: serviceId, InstanceId: a.instanceId })),
        );
      } catch (err) {
        // Already gone (a retried request, or someone else removed it) is what we wanted.
        if (!(err instanceof CloudMapRequestError && err.code === 'InstanceNotFound')) throw err;
      }
      return;
    case 'updateHealth':
      await counter.track('UpdateInstanceCustomHealthStatus', () =>
        client.send(new UpdateInstanceCustomHealthStatusCommand({ ServiceId: serviceId, InstanceId: a.instanceId, Status: a.status })),
      );
      return;
  }
}

function count(summary: ApplySummary, a: InstanceAction): void {
  if (a.kind === 'registerInstance') summary.registered++;
  else if (a.kind === 'deregisterInstance') summary.deregistered++;
  else summary.healthChanges++;
}

/** Instance actions grouped per (service, instance), each group in plan order, groups in first-seen order. */
function groupByInstance(actions: readonly InstanceAction[]): InstanceAction[][] {
  const groups = new Map<string, InstanceAction[]>();
  for (const a of actions) {
    const key = JSON.stringify([a.serviceName, a.instanceId]);
    const g = groups.get(key);
    if (g) g.push(a);
    else groups.set(key, [a]);
  }
  return [...groups.values()];
}
