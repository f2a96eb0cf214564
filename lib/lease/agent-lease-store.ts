/**
 * The lease as a service with a TTL check on the agent that registered it: the
 * environment is visible in the catalog and in health queries. The check lives
 * on that one agent only, so a renewal that reaches another agent is answered
 * 404 and turns into a registration there.
 */
import { deregisterService, registerTtlService, serviceCheckId, updateTtlCheck } from '../consul/agent';
import type { ConsulApi } from '../consul/consul-api';
import { ConsulRequestError } from '../consul/errors';
import { errorSummary, type Log } from '../log/logger';
import type { LeaseIdentity } from './lease-identity';
import type { LeaseSettings, LeaseStore } from './lease-store';

/** Agent mode: register with a TTL check, renew with `check/pass`, release with a deregistration. */
export class AgentLeaseStore implements LeaseStore {
  readonly mode = 'agent';

  constructor(
    private readonly api: ConsulApi,
    private readonly log: Log,
  ) {}

  async register(identity: LeaseIdentity, settings: LeaseSettings, timeoutMs: number): Promise<void> {
    await registerTtlService(
      this.api,
      {
        id: identity.id,
        name: settings.service,
        tags: ['lambda', 'lease'],
        meta: identity.meta,
        ttl: `${settings.ttlSeconds}s`,
        deregisterCriticalServiceAfter: `${settings.deregisterAfterSeconds}s`,
        notes: 'Lambda execution environment; renewed by its invocations',
      },
      { timeoutMs },
    );
  }

  async renew(identity: LeaseIdentity, settings: LeaseSettings, timeoutMs: number): Promise<boolean> {
    try {
      await updateTtlCheck(this.api, serviceCheckId(identity.id), 'pass', 'renewed by an invocation', { timeoutMs });
      return false;
    } catch (err) {
      // Only an agent that answered it does not know the check (404: it restarted, or the lease was
      // removed while this environment was frozen) is helped by registering again. A 429, a timeout
      // or no answer is not: a registration is the agent's heaviest write (its state lock, a sync to
      // the servers), and at fleet scale turning every slow renewal into one overloads the agent.
      if (!agentForgotCheck(err)) throw err;
      this.log.info('lease renewal failed; registering again', { leaseId: identity.id, error: errorSummary(err) });
      await this.register(identity, settings, timeoutMs);
      return true;
    }
  }

  async release(identity: LeaseIdentity, timeoutMs: number): Promise<void> {
    await deregisterService(this.api, identity.id, { timeoutMs });
  }

  details(): Record<string, string> {
    return {};
  }
}

/** True when the agent answered that it has no such TTL check (404, or Consul's 500 for a check without a TTL). */
function agentForgotCheck(err: unknown): boolean {
  return (
    err instanceof ConsulRequestError &&
    (err.statusCode === 404 || (err.statusCode === 500 && /does not have associated TTL/.test(err.message)))
  );
}
